import { and, eq, getTableColumns, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

import { createClerkBackendApi, userNotFound, type ClerkBackendApiOptions } from "./clerk/backend-api";
import { isClerkBudgetRefusal, withClerkBudget, type ClerkBudget } from "./clerk/budget";
import { proveInstance, sessionKeyIdOf } from "./clerk/instance";
import { MalformedClerkUserError, snapshotFromUserJson, type ClerkUserSnapshot } from "./clerk/user-json";
import { asynchronousCommit, fromDatabaseFailure, type UserSyncDatabase } from "./database";
import { UserSyncError } from "./errors";
import { guardedEmitter, type ConfigProblem, type ConfigProblemCode, type UserSyncLogEntry } from "./events";
import { createConfigProblemStore, isConfigProblemCode } from "./operations/config-problems";
import type { UserSyncOptions } from "./options";
import { dataChangingOutcomes, type WriteOutcome } from "./outcomes";
import { reusableQuery } from "./reusable-query";
import { defaultUserSyncTables, syncedTableOf, type UsersTable } from "./schema";
import { tombstoneClerkUser, upsertClerkUser, type WriteResult } from "./write-path";

/** The sync service's options: `UserSyncOptions`' (documented there), with the database resolved and the parts `createUserSync` makes. */
export type UserSyncServiceOptions<TUsers extends UsersTable> = Pick<
  UserSyncOptions<TUsers>,
  "users" | "tables" | "cooldownSeconds" | "clerkTimeoutMs" | "clerkBudgetWaitMs" | "preparedStatements" | "onEvent" | "log"
> & {
  /** The host's database, opened at first use. */
  db: () => Promise<UserSyncDatabase>;
  /** Clerk's Backend API, each key read at call time. */
  clerk: ClerkBackendApiOptions;
  /** The Backend API budget shared by every instance: each call takes a permission first, a 429 pauses it. */
  budget?: ClerkBudget;
  /**
   * Called (awaited, never throwing) with the caller's session token after a sync that reached
   * Clerk: reconciliation records its signing key id, the app's own Clerk instance.
   */
  onSessionKey?: (sessionToken: string | null) => Promise<void>;
};

export type SyncResult<TUser> = { outcome: WriteOutcome; user: TUser | null };

/** What the caller's verified session says about itself; `sessionToken` is `auth().getToken()`. */
export type SyncCaller = { sessionToken: string | null };

/** How often a process that knows of no problem looks for problems other instances recorded. */
const recordedProblemsCheckMs = 30_000;

export type UserSyncCounts = Record<WriteOutcome | "error", number> & {
  /** Calls to Clerk's Backend API for a user. */
  clerkFetches: number;
  /** Syncs answered from the database within the cooldown. */
  cooldownHits: number;
  /** Writes that created or changed mirrored data (`created`, `updated`, `restored`). */
  selfHeals: number;
};

export function createUserSyncService<TUsers extends UsersTable>(options: UserSyncServiceOptions<TUsers>) {
  type HostUser = TUsers["$inferSelect"];
  const table = syncedTableOf(options.users);
  const usersTable: PgTable = options.users;
  const { userSyncClerkFetches, userSyncConfigProblems } = options.tables ?? defaultUserSyncTables;
  const recordedProblems = createConfigProblemStore({ db: options.db, table: userSyncConfigProblems });
  const writeOptions = { namedStatements: options.preparedStatements === true };
  const cooldownMs = (options.cooldownSeconds ?? 10) * 1000;
  const unbudgetedApi = createClerkBackendApi(options.clerk, { timeoutMs: options.clerkTimeoutMs ?? 5000 });
  const clerkApi = withClerkBudget(unbudgetedApi, options.budget, { maxWaitMs: options.clerkBudgetWaitMs ?? 1000 });
  // Clerk does not rate-limit GET /v1/jwks: instance proofs take no grant of the shared budget.
  const jwksKeyIds = () => unbudgetedApi.getJwksKeyIds();
  // Not on a process's first syncs: one look per 30 s is enough, and a fresh process's first sync keeps its round trips.
  let nextRecordedProblemsCheckAtMs = Date.now() + recordedProblemsCheckMs;
  const inFlight = new Map<string, Promise<SyncResult<HostUser>>>();
  const problems = new Map<ConfigProblemCode, ConfigProblem>();
  const loggedProblems = new Set<ConfigProblemCode>();
  const counts: UserSyncCounts = {
    created: 0,
    updated: 0,
    touched: 0,
    unchanged: 0,
    stale: 0,
    deleted: 0,
    restored: 0,
    error: 0,
    clerkFetches: 0,
    cooldownHits: 0,
    selfHeals: 0,
  };
  const emit = guardedEmitter(options.onEvent);
  const log = options.log ?? ((entry: UserSyncLogEntry) => console.error("user-sync", JSON.stringify(entry)));

  async function withDatabase<T>(work: (db: UserSyncDatabase) => Promise<T>): Promise<T> {
    try {
      return await work(await options.db());
    } catch (error) {
      throw fromDatabaseFailure(error);
    }
  }

  /** The caller's row, or null when it is missing or a tombstone. */
  async function readLiveUser(userId: string): Promise<HostUser | null> {
    const [user] = await withDatabase((db) => db.select().from(usersTable).where(eq(table.id, userId)));
    return user && !(user as { deletedAt: Date | null }).deletedAt ? user : null;
  }

  /**
   * Claims this user's fetch from Clerk for the cooldown, across instances (database clock), and
   * reads the row in the same statement. `claimedAt` is the claim's time (the database's text,
   * exact to the microsecond, to release it), or null when another sync claimed it within the
   * cooldown: then `user` is the row to answer with. The claim commits asynchronously: a database
   * crash may forget the last claims, which costs one more Clerk call, not a wrong answer.
   */
  function prepareClaim(db: UserSyncDatabase) {
    const claim = db.$with("user_sync_claim").as(
      db
        .insert(userSyncClerkFetches)
        .values({ userId: sql.placeholder("userId"), fetchedAt: sql`now()` })
        .onConflictDoUpdate({
          target: userSyncClerkFetches.userId,
          set: { fetchedAt: sql`now()` },
          setWhere: sql`${userSyncClerkFetches.fetchedAt} <= now() - (${sql.raw(String(cooldownMs))}::double precision * interval '1 millisecond')`,
        })
        .returning({ fetchedAt: userSyncClerkFetches.fetchedAt }),
    );
    return reusableQuery(
      db
        .with(claim)
        .select({ claimedAt: sql<string | null>`(select fetched_at::text from ${claim})`, user: getTableColumns(usersTable) })
        .from(asynchronousCommit)
        .leftJoin(usersTable, eq(table.id, sql.placeholder("userId"))),
      "claim",
      writeOptions.namedStatements,
    );
  }
  const claimQueries = new WeakMap<UserSyncDatabase, ReturnType<typeof prepareClaim>>();

  async function claimFetch(db: UserSyncDatabase, userId: string) {
    let query = claimQueries.get(db);
    if (!query) claimQueries.set(db, (query = prepareClaim(db)));
    const [found] = await query.execute({ userId });
    return { claimedAt: found?.claimedAt ?? null, user: (found?.user ?? null) as HostUser | null };
  }

  /** A claimed fetch that stored nothing (Clerk failed, the budget refused, the write failed). */
  async function releaseClaim(userId: string, claimedAt: string) {
    try {
      const db = await options.db();
      await db
        .delete(userSyncClerkFetches)
        .where(and(eq(userSyncClerkFetches.userId, userId), sql`${userSyncClerkFetches.fetchedAt} = ${claimedAt}::timestamptz`));
    } catch {
      // Worst case the cooldown answers from the database until it passes.
    }
  }

  /** A configuration problem: logged once per process, recorded in PostgreSQL at every sighting. */
  async function noteProblem(error: unknown) {
    if (!(error instanceof UserSyncError) || !isConfigProblemCode(error.code)) return;
    if (!problems.has(error.code)) problems.set(error.code, { code: error.code, message: error.message, firstSeenAt: new Date() });
    // The record is for the health view; failing to write it must not change the answer.
    await recordedProblems.record(error.code, error.message).catch(() => undefined);
    if (loggedProblems.has(error.code)) return;
    loggedProblems.add(error.code);
    try {
      log({ level: "error", event: "config_problem", code: error.code, message: error.message });
    } catch {
      // A broken logger must not change the answer.
    }
  }

  /**
   * Clerk accepted the key and answered for the caller. Problems recorded by any instance are
   * cleared by a fresh instance proof: made here at once when this process saw a problem itself,
   * else at most every 30 s per process (the first 30 s after start), and only when some are
   * recorded. So after a fix the health view turns healthy with the next syncs, not at the next
   * deletion. A proof that fails here changes nothing.
   */
  async function afterClerkAnswered(caller: SyncCaller, proof: { startedAtMs: number } | null) {
    const sawProblems = problems.size > 0;
    problems.delete("CLERK_KEY_REJECTED");
    if (!proof) {
      const nowMs = Date.now();
      if (!sawProblems && nowMs < nextRecordedProblemsCheckAtMs) return;
      nextRecordedProblemsCheckAtMs = nowMs + recordedProblemsCheckMs;
      const recorded = await recordedProblems.list().catch(() => []);
      if (recorded.length === 0 && problems.size === 0) return;
      const startedAtMs = Date.now();
      try {
        await proveInstance(jwksKeyIds, sessionKeyIdOf(caller.sessionToken));
      } catch {
        return;
      }
      proof = { startedAtMs };
    }
    problems.delete("CLERK_INSTANCE_MISMATCH");
    await recordedProblems.clearSeenBefore(Date.now() - proof.startedAtMs).catch(() => undefined);
  }

  function record(outcome: WriteOutcome | "error", clerkFetched: boolean, startedAtMs: number, errorCode?: string) {
    counts[outcome]++;
    if (clerkFetched) counts.clerkFetches++;
    else if (outcome !== "error") counts.cooldownHits++;
    if (outcome !== "error" && dataChangingOutcomes.has(outcome)) counts.selfHeals++;
    emit({ source: "client-sync", outcome, clerkFetched, durationMs: Date.now() - startedAtMs, errorCode });
  }

  /** The Backend API's answer for `userId` as a snapshot, or CLERK_MALFORMED. */
  function fetchedSnapshot(answer: unknown, userId: string): ClerkUserSnapshot {
    let snapshot: ClerkUserSnapshot;
    try {
      snapshot = snapshotFromUserJson(answer);
    } catch (error) {
      if (!(error instanceof MalformedClerkUserError)) throw error;
      throw new UserSyncError("CLERK_MALFORMED", `Clerk returned a malformed user (${error.issues.join("; ").slice(0, 300)})`);
    }
    if (snapshot.id !== userId) throw new UserSyncError("CLERK_MALFORMED", "Clerk returned another user");
    return snapshot;
  }

  async function syncFromClerk(userId: string, caller: SyncCaller): Promise<SyncResult<HostUser>> {
    const startedAtMs = Date.now();
    let clerkFetched = false;
    let claimedAt: string | null = null;
    try {
      if (cooldownMs > 0) {
        const claim = await withDatabase((db) => claimFetch(db, userId));
        claimedAt = claim.claimedAt;
        // A row missing or tombstoned is fetched anyway: another instance may be creating it.
        if (claimedAt === null && claim.user && !(claim.user as { deletedAt: Date | null }).deletedAt) {
          record("unchanged", false, startedAtMs);
          return { outcome: "unchanged", user: claim.user };
        }
      }
      clerkFetched = true;
      const answer = await clerkApi.getUser(userId);
      let result: WriteResult;
      let proof: { startedAtMs: number } | null = null;
      if (answer === userNotFound) {
        // Only after proving, with JWKS fetched for this decision, that the API is the session's
        // instance: another instance's key says resource_not_found for every user of this one.
        proof = { startedAtMs: Date.now() };
        await proveInstance(jwksKeyIds, sessionKeyIdOf(caller.sessionToken));
        result = await withDatabase((db) => tombstoneClerkUser(db, table, userId, null, "client-sync", writeOptions));
      } else {
        const snapshot = fetchedSnapshot(answer, userId);
        result = await withDatabase((db) => upsertClerkUser(db, table, snapshot, "fetched", writeOptions));
      }
      await afterClerkAnswered(caller, proof);
      await options.onSessionKey?.(caller.sessionToken);
      record(result.outcome, true, startedAtMs);
      return { outcome: result.outcome, user: result.row as HostUser | null };
    } catch (error) {
      // Nothing was stored: the next sync, on any instance, may fetch again.
      if (claimedAt !== null) await releaseClaim(userId, claimedAt);
      await noteProblem(error);
      // A call the shared budget refused never reached Clerk.
      record("error", clerkFetched && !isClerkBudgetRefusal(error), startedAtMs, error instanceof UserSyncError ? error.code : "UNKNOWN");
      throw error;
    }
  }

  return {
    /** The host's table object the service reads and writes. */
    table,
    readLiveUser,
    /**
     * Fetches the user from Clerk and writes it through the write path. Concurrent calls for
     * one user in this process share one Clerk call; a user fetched by any instance within
     * the cooldown is answered from the database. A Clerk `resource_not_found` tombstones the
     * row only after `caller.sessionToken`'s signing key is found in the Backend API's JWKS,
     * fetched for that decision.
     */
    syncUser(userId: string, caller: SyncCaller): Promise<SyncResult<HostUser>> {
      const running = inFlight.get(userId);
      if (running) return running;
      const started = syncFromClerk(userId, caller).finally(() => inFlight.delete(userId));
      inFlight.set(userId, started);
      return started;
    },
    /**
     * Fetches the user from Clerk (within the shared budget) and writes the answer with the
     * fetched authority, which settles an equal clock: the webhook's repair of a `diverged`
     * payload. No cooldown (a payload just proved the row out of step) and no tombstone on a 404:
     * there is no session to prove the instance with, and Clerk's `user.deleted` event follows.
     */
    async refetchUser(userId: string): Promise<{ outcome: WriteOutcome } | "not_found"> {
      const answer = await clerkApi.getUser(userId);
      if (answer === userNotFound) return "not_found";
      const snapshot = fetchedSnapshot(answer, userId);
      const result = await withDatabase((db) => upsertClerkUser(db, table, snapshot, "fetched", writeOptions));
      return { outcome: result.outcome };
    },
    /** Misconfigurations this process saw since start and has not seen disproven (e.g. `CLERK_INSTANCE_MISMATCH`). */
    configProblems: (): ConfigProblem[] => [...problems.values()].map((problem) => ({ ...problem })),
    /** Misconfigurations any instance recorded in PostgreSQL and no later proof cleared: what the health view shows. */
    recordedConfigProblems: () => recordedProblems.list(),
    /** In-process counters since start: outcomes, Clerk fetches, cooldown hits, self-heals. */
    counts: (): Readonly<UserSyncCounts> => ({ ...counts }),
  };
}

export type UserSyncService<TUsers extends UsersTable> = ReturnType<typeof createUserSyncService<TUsers>>;
