import { eq } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

import { createClerkBackendApi, userNotFound, type ClerkBackendApiOptions } from "./clerk/backend-api";
import {
  callWithinGrant,
  clerkBudgetRefusal,
  isClerkBudgetRefusal,
  isPostgresClerkBudget,
  sleep,
  withClerkBudget,
  type ClerkBudget,
} from "./clerk/budget";
import { proveInstance, sessionKeyIdOf } from "./clerk/instance";
import { MalformedClerkUserError, snapshotFromUserJson, type ClerkUserSnapshot } from "./clerk/user-json";
import { fromDatabaseFailure, type UserSyncDatabase } from "./database";
import { UserSyncError } from "./errors";
import { guardedEmitter, type ConfigProblem, type UserSyncLogEntry } from "./events";
import type { UserSyncOptions } from "./options";
import { dataChangingOutcomes, type WriteOutcome } from "./outcomes";
import { defaultUserSyncTables, syncedTableOf, type SyncedUsersTable, type UsersTable } from "./schema";
import { createFetchClaims, type FetchGrant } from "./sync-claim";
import { createSyncProblems } from "./sync-problems";
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

export type UserSyncCounts = Record<WriteOutcome | "error", number> & {
  /** Calls to Clerk's Backend API for a user. */
  clerkFetches: number;
  /** Syncs answered from the database within the cooldown. */
  cooldownHits: number;
  /** Writes that created or changed mirrored data (`created`, `updated`, `restored`). */
  selfHeals: number;
};

/** In-process counters of `user.sync`, each sync also emitted as a `client-sync` event. */
function createSyncCounts(emit: ReturnType<typeof guardedEmitter>) {
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
  return {
    record(outcome: WriteOutcome | "error", clerkFetched: boolean, startedAtMs: number, errorCode?: string) {
      counts[outcome]++;
      if (clerkFetched) counts.clerkFetches++;
      else if (outcome !== "error") counts.cooldownHits++;
      if (outcome !== "error" && dataChangingOutcomes.has(outcome)) counts.selfHeals++;
      emit({ source: "client-sync", outcome, clerkFetched, durationMs: Date.now() - startedAtMs, errorCode });
    },
    snapshot: (): Readonly<UserSyncCounts> => ({ ...counts }),
  };
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

const isTombstone = (user: unknown) => !!(user as { deletedAt: Date | null }).deletedAt;

/** The Backend API client `user.sync` uses: each user read within the shared budget. */
function createClerkReads(options: Pick<UserSyncServiceOptions<UsersTable>, "clerk" | "clerkTimeoutMs" | "budget">, maxWaitMs: number) {
  const { budget } = options;
  const unbudgetedApi = createClerkBackendApi(options.clerk, { timeoutMs: options.clerkTimeoutMs ?? 5000 });
  const clerkApi = withClerkBudget(unbudgetedApi, budget, { maxWaitMs });
  return {
    /** The user from Clerk, within the budget: the grant the claim's statement decided, else a decision of its own. */
    async getUser(userId: string, grant: FetchGrant | null = null): Promise<unknown> {
      if (!grant || !budget) return clerkApi.getUser(userId);
      if (!grant.granted) throw clerkBudgetRefusal(grant.waitMs);
      // A reserved slot a little ahead: wait for it before calling Clerk.
      if (grant.waitMs > 0) await sleep(grant.waitMs, undefined);
      return callWithinGrant(budget, () => unbudgetedApi.getUser(userId));
    },
    // Clerk does not rate-limit GET /v1/jwks: instance proofs take no grant of the shared budget.
    jwksKeyIds: () => unbudgetedApi.getJwksKeyIds(),
  };
}

/** `work` on the host's database; a failure becomes a `UserSyncError`. */
async function withDatabase<T>(db: () => Promise<UserSyncDatabase>, work: (db: UserSyncDatabase) => Promise<T>): Promise<T> {
  try {
    return await work(await db());
  } catch (error) {
    throw fromDatabaseFailure(error);
  }
}

/**
 * Writes Clerk's answer for the caller through the write path. A `resource_not_found` tombstones
 * the row only after proving, with JWKS fetched for this decision, that the API is the session's
 * instance: another instance's key says resource_not_found for every user of this one.
 */
async function writeAnswer(
  answer: unknown,
  userId: string,
  caller: SyncCaller,
  parts: {
    table: SyncedUsersTable;
    writeOptions: { namedStatements: boolean };
    jwksKeyIds: () => Promise<string[]>;
    database: <T>(work: (db: UserSyncDatabase) => Promise<T>) => Promise<T>;
  },
): Promise<{ result: WriteResult; proof: { startedAtMs: number } | null }> {
  const { table, writeOptions, database } = parts;
  if (answer === userNotFound) {
    const proof = { startedAtMs: Date.now() };
    await proveInstance(parts.jwksKeyIds, sessionKeyIdOf(caller.sessionToken));
    return { result: await database((db) => tombstoneClerkUser(db, table, userId, null, "client-sync", writeOptions)), proof };
  }
  const snapshot = fetchedSnapshot(answer, userId);
  return { result: await database((db) => upsertClerkUser(db, table, snapshot, "fetched", writeOptions)), proof: null };
}

export function createUserSyncService<TUsers extends UsersTable>(options: UserSyncServiceOptions<TUsers>) {
  type HostUser = TUsers["$inferSelect"];
  const table = syncedTableOf(options.users);
  const usersTable: PgTable = options.users;
  const tables = options.tables ?? defaultUserSyncTables;
  const writeOptions = { namedStatements: options.preparedStatements === true };
  const cooldownMs = (options.cooldownSeconds ?? 10) * 1000;
  const maxWaitMs = options.clerkBudgetWaitMs ?? 1000;
  const clerk = createClerkReads(options, maxWaitMs);
  const inFlight = new Map<string, Promise<SyncResult<HostUser>>>();
  const counts = createSyncCounts(guardedEmitter(options.onEvent));
  const log = options.log ?? ((entry: UserSyncLogEntry) => console.error("user-sync", JSON.stringify(entry)));
  const problems = createSyncProblems({ db: options.db, table: tables.userSyncConfigProblems, log, jwksKeyIds: clerk.jwksKeyIds });
  const budget = options.budget;
  const claims = createFetchClaims<HostUser>({
    usersTable,
    table,
    fetches: tables.userSyncClerkFetches,
    cooldownMs,
    namedStatements: writeOptions.namedStatements,
    budget: isPostgresClerkBudget(budget) ? { budget, maxWaitMs } : undefined,
  });
  const database = <T>(work: (db: UserSyncDatabase) => Promise<T>) => withDatabase(options.db, work);

  async function syncFromClerk(userId: string, caller: SyncCaller): Promise<SyncResult<HostUser>> {
    const startedAtMs = Date.now();
    let clerkFetched = false;
    let claimedAt: string | null = null;
    try {
      let grant: FetchGrant | null = null;
      if (cooldownMs > 0) {
        const claim = await database((db) => claims.claim(db, userId));
        claimedAt = claim.claimedAt;
        // A row missing or tombstoned is fetched anyway: another instance may be creating it.
        if (claimedAt === null && claim.user && !isTombstone(claim.user)) {
          counts.record("unchanged", false, startedAtMs);
          return { outcome: "unchanged", user: claim.user };
        }
        grant = claim.grant;
      }
      clerkFetched = true;
      const answer = await clerk.getUser(userId, grant);
      const { result, proof } = await writeAnswer(answer, userId, caller, { table, writeOptions, jwksKeyIds: clerk.jwksKeyIds, database });
      await problems.afterClerkAnswered(caller.sessionToken, proof);
      await options.onSessionKey?.(caller.sessionToken);
      counts.record(result.outcome, true, startedAtMs);
      return { outcome: result.outcome, user: result.row as HostUser | null };
    } catch (error) {
      // Nothing was stored: the next sync, on any instance, may fetch again.
      if (claimedAt !== null) await claims.release(options.db, userId, claimedAt);
      await problems.note(error);
      // A call the shared budget refused never reached Clerk.
      counts.record("error", clerkFetched && !isClerkBudgetRefusal(error), startedAtMs, error instanceof UserSyncError ? error.code : "UNKNOWN");
      throw error;
    }
  }

  return {
    /** The host's table object the service reads and writes. */
    table,
    /** The caller's row, or null when it is missing or a tombstone. */
    async readLiveUser(userId: string): Promise<HostUser | null> {
      const [user] = await database((db) => db.select().from(usersTable).where(eq(table.id, userId)));
      return user && !isTombstone(user) ? user : null;
    },
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
      const answer = await clerk.getUser(userId);
      if (answer === userNotFound) return "not_found";
      const snapshot = fetchedSnapshot(answer, userId);
      const result = await database((db) => upsertClerkUser(db, table, snapshot, "fetched", writeOptions));
      return { outcome: result.outcome };
    },
    /** Misconfigurations this process saw since start and has not seen disproven (e.g. `CLERK_INSTANCE_MISMATCH`). */
    configProblems: (): ConfigProblem[] => problems.seen(),
    /** Misconfigurations any instance recorded in PostgreSQL and no later proof cleared: what the health view shows. */
    recordedConfigProblems: () => problems.recorded(),
    /** In-process counters since start: outcomes, Clerk fetches, cooldown hits, self-heals. */
    counts: (): Readonly<UserSyncCounts> => counts.snapshot(),
  };
}

export type UserSyncService<TUsers extends UsersTable> = ReturnType<typeof createUserSyncService<TUsers>>;
