/**
 * Reconciliation: repairs the mirror from Clerk's user list, for the users the client sync
 * cannot heal (never signed in, deleted while signed out with the webhook lost, a database
 * restored from backup). One implementation behind the admin API and the CLI.
 *
 * - Full mode walks Clerk's list (`+created_at`, 500 per page) by offset; incremental mode
 *   walks `-updated_at` and stops at the previous successful run's high-water mark (minus an
 *   overlap for clock skew) and never deletes.
 * - Each page is one statement (reconcile-write.ts): its ids recorded as seen, compared with
 *   their mirror rows, repaired by one multi-row upsert with the write path's guards (clock
 *   ordering, tombstones never written again, only Clerk-owned columns, an identical row never
 *   rewritten), and the run's counts and checkpoint moved. A killed run leaves a consistent
 *   checkpoint, and the next apply run of its mode resumes from it.
 * - "Not seen in the walk" is never proof of deletion (an offset walk skips users when others
 *   are deleted during it). Seen ids go to `user_sync_reconcile_seen`; afterwards the live rows
 *   not seen are confirmed with the list endpoint's `user_id` filter, 100 per call, and only the
 *   ones Clerk does not return are tombstoned. The ones it returns are repaired like a page.
 * - Dry run writes no user rows (only its run row and scratch seen ids) and returns the diff.
 * - Single-flight across app instances: a transaction-scoped advisory lock held for the run.
 * - Every Clerk request draws from the shared `ClerkBudget`; a 429 pauses every caller for
 *   its `Retry-After`, then the request is retried.
 * - Memory is flat in the number of users: one page at a time, the diff list capped.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import type { User } from "@clerk/backend";
import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";

import type { ClerkBudget } from "./clerk-budget";
import { snapshotFromUserJson, type ClerkUserSnapshot } from "./clerk-user";
import { commitReconcilePage, deletionCandidates, rowsOf } from "./reconcile-write";
import {
  defaultUserSyncTables,
  syncedTableOf,
  type ReconcileChange,
  type ReconcileMode,
  type ReconcilePhase,
  type ReconcileRunRow,
  type SyncedUsersTable,
  type UserSyncTables,
} from "./schema";
import { guardedEmitter, type UsersTable, type UserSyncEvent } from "./sync";
import type { UserSyncDatabase } from "./write-path";

export type { ReconcileChange, ReconcileMode } from "./schema";

/** The part of Clerk's Backend API client reconciliation calls. `createClerkClient()` satisfies it. */
export type ReconcileClerkClient = {
  users: {
    getUserList(params: {
      limit?: number;
      offset?: number;
      orderBy?: "+created_at" | "-updated_at";
      userId?: string[];
    }): Promise<{ data: User[]; totalCount: number }>;
  };
};

export type ReconcileCounts = { missing: number; stale: number; deleted: number; unchanged: number };

export type ReconcileReport = {
  runId: string;
  dryRun: boolean;
  mode: ReconcileMode;
  /** Dry run: what differs. Apply: what this run wrote (a row a concurrent writer already fixed counts as unchanged). */
  counts: ReconcileCounts;
  /** Per user: the kind of drift and the mirrored fields that differ, never their values. Capped. */
  changes: ReconcileChange[];
  /** More changes were found than `changes` holds. */
  truncated: boolean;
  /** Backend API requests (`getUserList` is two: the page and its total count). */
  clerkRequests: number;
  /** This process's share of the run. */
  durationMs: number;
  /** Users Clerk listed that did not have the shape of a user: neither written nor tombstoned. */
  malformed: number;
  /** True when this call continued a run a previous process did not finish. */
  resumed: boolean;
  /** Time spent in the database and waiting for Clerk (budget waits included), this process. */
  timings: { databaseMs: number; clerkMs: number };
};

export type ReconcileProgress = {
  runId: string;
  phase: "walk" | "confirm";
  /** Distinct users walked so far (all attempts of the run). */
  walked: number;
  /** Clerk's user count when the latest page was read. */
  clerkTotal: number | null;
  /** Deletion candidates confirmed so far (this process). */
  confirmed: number;
  counts: ReconcileCounts;
  clerkRequests: number;
};

export type ReconcileOptions = {
  db: UserSyncDatabase;
  /** The host's users table, built with `userSyncColumns()`. */
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: UserSyncTables;
  clerk: ReconcileClerkClient;
  /** The Backend API budget shared with live `user.sync` calls. */
  budget: ClerkBudget;
  /** Default true: report, write no user rows. */
  dryRun?: boolean;
  /** Default "full". */
  mode?: ReconcileMode;
  /** Users per list page (Clerk's maximum, 500, by default). */
  pageSize?: number;
  /** Deletion candidates per confirmation call (Clerk's `user_id` filter takes at most 100). */
  confirmBatchSize?: number;
  /** How many changes the report lists (default 1000). */
  maxChanges?: number;
  /** Incremental runs re-read users updated this long before the previous run started (default 5 min). */
  incrementalOverlapMs?: number;
  /** An unfinished apply run checkpointed longer ago than this is not resumed (default 24 h). */
  resumeWithinMs?: number;
  /** Finished runs older than this are deleted when a run starts (default 30 days). */
  retentionMs?: number;
  /**
   * How the single-flight lock is held: "transaction" (default) keeps a transaction open on one
   * pooled connection for the run; "session" takes a session lock on a single-connection
   * database (PGlite), where an open transaction would block every other query.
   */
  lock?: "transaction" | "session";
  signal?: AbortSignal;
  onProgress?: (progress: ReconcileProgress) => void;
  /** One event per write attempt (`source: "reconcile"`). */
  onEvent?: (event: UserSyncEvent) => void;
  /**
   * Bound on one Backend API call (default 30 s). The SDK cannot abort its request; a call
   * that does not answer in time counts as a failure (retried, then the run stops with its
   * checkpoint) instead of holding the lock forever.
   */
  clerkTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
};

/** Another reconciliation run holds the lock (on this or another app instance). */
export class ReconcileLockedError extends Error {
  readonly code = "RECONCILE_LOCKED";
  constructor(readonly runningRunId: string | null) {
    super(runningRunId ? `Another reconciliation run (${runningRunId}) is in progress` : "Another reconciliation run is in progress");
    this.name = "ReconcileLockedError";
  }
}

/** Clerk failed a request the run needed (after retries); the checkpoint is kept for the next run. */
export class ReconcileClerkError extends Error {
  readonly code = "CLERK_UNAVAILABLE";
  constructor(readonly status: number | null, options: { cause?: unknown } = {}) {
    super(`Clerk's Backend API failed during reconciliation (${status ?? "network error"})`, options);
    this.name = "ReconcileClerkError";
  }
}

/** What the admin API asks for (`?dry_run=…&mode=…`); the CLI adds its progress and Ctrl-C. */
export type ReconcileRequest = { dryRun: boolean; mode: ReconcileMode } & Pick<ReconcileOptions, "signal" | "onProgress">;

/**
 * `runReconcile` bound to the host's database, users table, Clerk client and budget: the
 * function the admin API's reconcile endpoint calls per request (the CLI calls `runReconcile`).
 * A second request while a run holds the lock rejects with `ReconcileLockedError` (409).
 */
export function createReconciler(
  options: Omit<ReconcileOptions, "db" | "clerk" | "dryRun" | "mode" | "signal" | "onProgress"> & {
    db: () => Promise<UserSyncDatabase>;
    clerk: () => Promise<ReconcileClerkClient>;
  },
) {
  return async (request: ReconcileRequest): Promise<ReconcileReport> =>
    runReconcile({ ...options, ...request, db: await options.db(), clerk: await options.clerk() });
}

export type LastReconcileRun = {
  runId: string;
  finishedAt: Date;
  dryRun: boolean;
  mode: ReconcileMode;
  counts: ReconcileCounts;
};

/** The last run that finished successfully (dry or applied), for the health view. */
export async function lastReconcileRun(db: UserSyncDatabase, tables: UserSyncTables = defaultUserSyncTables): Promise<LastReconcileRun | null> {
  const runs = tables.userSyncReconcileRuns;
  const [row] = await db
    .select()
    .from(runs)
    .where(eq(runs.status, "succeeded"))
    .orderBy(desc(runs.finishedAt))
    .limit(1);
  if (!row?.finishedAt) return null;
  return { runId: row.id, finishedAt: row.finishedAt, dryRun: row.dryRun, mode: row.mode, counts: countsOf(row) };
}

const sessionLockHolders = new WeakSet<UserSyncDatabase>();
const lockClassId = 0x75_73_72_63; // "usrc": user sync reconcile
const lockObjectId = 1;

/**
 * Whether some session (any instance, the CLI) holds the reconciliation lock now. A run row
 * still `running` while nobody holds the lock belongs to a process that stopped; the next apply
 * run of its mode resumes it.
 */
export async function reconcileLockHeld(db: UserSyncDatabase): Promise<boolean> {
  // The two-key advisory lock appears in pg_locks as classid/objid with objsubid 2; advisory
  // locks are per database, and pg_locks lists every database's.
  const [row] = rowsOf<{ held: boolean }>(
    await db.execute(sql`select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and granted and classid = ${lockClassId} and objid = ${lockObjectId} and objsubid = 2
        and database = (select oid from pg_database where datname = current_database())
    ) as held`),
  );
  return row?.held === true;
}
const maxRateLimitedRetries = 30;
const maxFailedAttempts = 4;
const defaultRetryAfterSeconds = 10;

class ClerkCallTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClerkCallTimeout(`No answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const countsOf = (row: ReconcileRunRow): ReconcileCounts => ({
  missing: row.missing,
  stale: row.stale,
  deleted: row.deleted,
  unchanged: row.unchanged,
});

/**
 * Runs one reconciliation (or resumes the unfinished apply run of the same mode). Throws
 * `ReconcileLockedError` when another run holds the lock, `ReconcileClerkError` when Clerk
 * keeps failing; any failure leaves the checkpoint for the next run.
 */
export async function runReconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const { db } = options;
  if (options.lock === "session") {
    // A session lock is re-entrant: two runs in this process would share the one session.
    if (sessionLockHolders.has(db)) throw new ReconcileLockedError(await runningRunId(db, options.tables));
    sessionLockHolders.add(db);
    try {
      const [row] = rowsOf<{ locked: boolean }>(await db.execute(sql`select pg_try_advisory_lock(${lockClassId}, ${lockObjectId}) as locked`));
      if (!row?.locked) throw new ReconcileLockedError(await runningRunId(db, options.tables));
      try {
        return await reconcileHoldingLock(options, async () => undefined);
      } finally {
        await db.execute(sql`select pg_advisory_unlock(${lockClassId}, ${lockObjectId})`);
      }
    } finally {
      sessionLockHolders.delete(db);
    }
  }
  return db.transaction(async (tx) => {
    const [row] = rowsOf<{ locked: boolean }>(
      await tx.execute(sql`select pg_try_advisory_xact_lock(${lockClassId}, ${lockObjectId}) as locked`),
    );
    if (!row?.locked) throw new ReconcileLockedError(await runningRunId(db, options.tables));
    // The lock transaction holds no row locks and no snapshot: a server-wide idle timeout
    // must not end it (and with it the lock) while the run waits for Clerk.
    await tx.execute(sql`set local idle_in_transaction_session_timeout = 0`);
    // A lost lock connection means another instance may start: checked every few seconds,
    // the run stops at the next page.
    let checkedAtMs = Date.now();
    return reconcileHoldingLock(options, async () => {
      if (Date.now() - checkedAtMs < 2_000) return;
      await tx.execute(sql`select 1`);
      checkedAtMs = Date.now();
    });
  });
}

async function runningRunId(db: UserSyncDatabase, tables: UserSyncTables = defaultUserSyncTables): Promise<string | null> {
  const runs = tables.userSyncReconcileRuns;
  const [row] = await db
    .select({ id: runs.id })
    .from(runs)
    .where(eq(runs.status, "running"))
    .orderBy(desc(runs.updatedAt))
    .limit(1);
  return row?.id ?? null;
}

async function reconcileHoldingLock(options: ReconcileOptions, heartbeat: () => Promise<void>): Promise<ReconcileReport> {
  const { db, clerk, budget, signal } = options;
  const now = options.now ?? Date.now;
  const startedAtMs = now();
  const dryRun = options.dryRun ?? true;
  const mode = options.mode ?? "full";
  const pageSize = options.pageSize ?? 500;
  const confirmBatchSize = Math.min(options.confirmBatchSize ?? 100, 100);
  const maxChanges = options.maxChanges ?? 1000;
  const clerkTimeoutMs = options.clerkTimeoutMs ?? 30_000;
  const table: SyncedUsersTable = syncedTableOf(options.users);
  const { userSyncReconcileRuns: runs, userSyncReconcileSeen: seen } = options.tables ?? defaultUserSyncTables;
  const emit = guardedEmitter(options.onEvent);
  const timings = { databaseMs: 0, clerkMs: 0 };

  async function timedDatabase<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      timings.databaseMs += performance.now() - started;
    }
  }

  let run = await timedDatabase(() => startOrResume());
  const resumed = run.attempts > 1;
  let changesStored = run.changes.length;
  let requestsSinceCheckpoint = 0;
  let confirmed = 0;

  async function startOrResume(): Promise<ReconcileRunRow> {
    const retentionMs = options.retentionMs ?? 30 * 24 * 3600_000;
    await db.delete(runs).where(and(lt(runs.startedAt, new Date(now() - retentionMs)), sql`${runs.status} <> 'running'`));
    const unfinished = await db
      .select()
      .from(runs)
      .where(inArray(runs.status, ["running", "failed"]))
      .orderBy(desc(runs.startedAt));
    const resumeAfter = new Date(now() - (options.resumeWithinMs ?? 24 * 3600_000));
    let resumable: ReconcileRunRow | undefined;
    const abandon: string[] = [];
    for (const candidate of unfinished) {
      const expired = candidate.updatedAt <= resumeAfter;
      const sameKind = !dryRun && !candidate.dryRun && candidate.mode === mode;
      if (sameKind && !expired && !resumable) {
        resumable = candidate;
        continue;
      }
      // Dry runs are never resumed. An unfinished apply run keeps its checkpoint for the next
      // apply run of its mode (a dry run or the other mode leaves it alone) until it expires.
      if (candidate.dryRun || expired || sameKind) abandon.push(candidate.id);
    }
    if (abandon.length) {
      await db.update(runs).set({ status: "abandoned", finishedAt: sql`now()` }).where(inArray(runs.id, abandon));
      await db.delete(seen).where(inArray(seen.runId, abandon));
    }
    if (resumable) {
      const [row] = await db
        .update(runs)
        .set({ status: "running", attempts: sql`${runs.attempts} + 1`, errorCode: null, finishedAt: null, updatedAt: sql`now()` })
        .where(eq(runs.id, resumable.id))
        .returning();
      return row!;
    }
    let stopAtMs: number | null = null;
    if (mode === "incremental") {
      const [previous] = await db
        .select({ highWaterMarkMs: runs.highWaterMarkMs })
        .from(runs)
        .where(and(eq(runs.status, "succeeded"), eq(runs.dryRun, false)))
        .orderBy(desc(runs.finishedAt))
        .limit(1);
      if (previous) stopAtMs = previous.highWaterMarkMs - (options.incrementalOverlapMs ?? 5 * 60_000);
    }
    const [row] = await db
      .insert(runs)
      .values({ id: randomUUID(), mode, dryRun, status: "running", stopAtMs, highWaterMarkMs: startedAtMs })
      .returning();
    return row!;
  }

  function progress(phase: ReconcileProgress["phase"]) {
    options.onProgress?.({
      runId: run.id,
      phase,
      walked: run.walked,
      clerkTotal: run.clerkTotal,
      confirmed,
      counts: countsOf(run),
      clerkRequests: run.clerkRequests + requestsSinceCheckpoint,
    });
  }

  /** One Backend API call through the budget; 429s pause everyone and retry, other failures back off. */
  async function callClerk<T>(requests: number, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let rateLimited = 0;
    let failed = 0;
    try {
      for (;;) {
        signal?.throwIfAborted();
        // One request at a time: a budget may cap how many one grant can take.
        for (let granted = 0; granted < requests; granted++) {
          while (!(await budget.acquire("reconcile", { maxWaitMs: 30_000, signal }))) signal?.throwIfAborted();
        }
        requestsSinceCheckpoint += requests;
        try {
          return await withTimeout(call(), clerkTimeoutMs);
        } catch (error) {
          const status = isClerkAPIResponseError(error) ? error.status : null;
          if (status === 429 && ++rateLimited <= maxRateLimitedRetries) {
            const retryAfter = isClerkAPIResponseError(error) ? error.retryAfter : undefined;
            await budget.pause(retryAfter ?? defaultRetryAfterSeconds);
            continue;
          }
          const transient = status === null || status >= 500 || status === 429;
          if (transient && ++failed < maxFailedAttempts) {
            await sleep(500 * 2 ** failed, undefined, { signal });
            continue;
          }
          throw new ReconcileClerkError(status, { cause: error });
        }
      }
    } finally {
      timings.clerkMs += performance.now() - started;
    }
  }

  /** Clerk's users of one page (or one confirmation call), parsed; malformed ones are kept apart. */
  function parse(clerkUsers: User[]) {
    const snapshots: ClerkUserSnapshot[] = [];
    const malformedIds: string[] = [];
    for (const user of clerkUsers) {
      try {
        // The SDK keeps the Backend API's JSON: parsed exactly as webhooks and user.sync parse it.
        snapshots.push(snapshotFromUserJson(user.raw));
      } catch {
        if (typeof user?.id === "string" && user.id) malformedIds.push(user.id);
      }
    }
    return { snapshots, malformedIds, malformed: clerkUsers.length - snapshots.length };
  }

  /**
   * Compares users Clerk returned with their mirror rows and repairs them, tombstones `goneIds`,
   * and moves the checkpoint: all in one statement.
   */
  async function commitBatch(batch: {
    clerkUsers: User[];
    goneIds?: string[];
    checkpoint: { walkOffset?: number; confirmCursor?: string; phase?: ReconcilePhase; clerkTotal?: number };
  }) {
    const { snapshots, malformedIds, malformed } = parse(batch.clerkUsers);
    const started = performance.now();
    // Requests sent so far (a read-ahead may add more while this page commits).
    const requests = requestsSinceCheckpoint;
    const result = await timedDatabase(() =>
      commitReconcilePage(
        db,
        { users: table, seen, runs },
        {
          runId: run.id,
          apply: !dryRun,
          snapshots,
          walkedIds: [...snapshots.map((s) => s.id), ...malformedIds],
          goneIds: batch.goneIds ?? [],
          room: Math.max(0, maxChanges - changesStored),
          malformed,
          clerkRequests: requests,
          checkpoint: batch.checkpoint,
        },
      ),
    );
    run = { ...run, ...result.run };
    changesStored += result.listed;
    requestsSinceCheckpoint -= requests;
    if (dryRun) return;
    const durationMs = performance.now() - started;
    for (const { outcome } of result.outcomes) {
      if (outcome !== "planned") emit({ source: "reconcile", outcome, clerkFetched: true, durationMs });
    }
  }

  try {
    progress(run.phase === "confirm" ? "confirm" : "walk");
    if (run.phase === "walk") await walk();
    if (run.phase === "confirm") await confirmDeletions();
    const [finished] = await timedDatabase(async () => {
      await db.delete(seen).where(eq(seen.runId, run.id));
      return db
        .update(runs)
        .set({
          status: "succeeded",
          phase: "done",
          clerkRequests: sql`${runs.clerkRequests} + ${requestsSinceCheckpoint}`,
          finishedAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(eq(runs.id, run.id))
        .returning();
    });
    run = finished!;
    return {
      runId: run.id,
      dryRun: run.dryRun,
      mode: run.mode,
      counts: countsOf(run),
      changes: run.changes,
      truncated: run.truncated,
      clerkRequests: run.clerkRequests,
      durationMs: Math.round(now() - startedAtMs),
      malformed: run.malformed,
      resumed,
      timings: { databaseMs: Math.round(timings.databaseMs), clerkMs: Math.round(timings.clerkMs) },
    };
  } catch (error) {
    const errorCode = signal?.aborted
      ? "ABORTED"
      : error instanceof ReconcileClerkError
        ? error.code
        : "FAILED";
    // Dry runs are not resumed: nothing is lost by abandoning them.
    await db
      .update(runs)
      .set({
        status: dryRun ? "abandoned" : "failed",
        errorCode,
        clerkRequests: sql`${runs.clerkRequests} + ${requestsSinceCheckpoint}`,
        finishedAt: sql`now()`,
        updatedAt: sql`now()`,
      })
      .where(eq(runs.id, run.id))
      .catch(() => undefined);
    if (dryRun) await db.delete(seen).where(eq(seen.runId, run.id)).catch(() => undefined);
    throw error;
  }

  async function walk() {
    const incremental = run.mode === "incremental";
    const fetchPage = (offset: number) => {
      const fetching = callClerk(2, () =>
        clerk.users.getUserList({ limit: pageSize, offset, orderBy: incremental ? "-updated_at" : "+created_at" }),
      );
      // Read ahead while a page commits; if that commit fails, nobody awaits this one.
      fetching.catch(() => undefined);
      return { offset, fetching };
    };
    let next = fetchPage(run.walkOffset);
    for (;;) {
      await heartbeat();
      signal?.throwIfAborted();
      const { offset } = next;
      const page = await next.fetching;
      let users = page.data;
      let reachedMark = false;
      if (incremental && run.stopAtMs !== null) {
        const stopAtMs = run.stopAtMs;
        const newer = users.filter((u) => !(typeof u.updatedAt === "number" && u.updatedAt < stopAtMs));
        reachedMark = newer.length < users.length;
        users = newer;
      }
      // A short page is the end; so is Clerk's count (its total, read with this page), which
      // spares an empty last page. Users created since are the next run's.
      const last = page.data.length < pageSize || offset + page.data.length >= page.totalCount || reachedMark;
      if (!last) next = fetchPage(offset + page.data.length);
      await commitBatch({
        clerkUsers: users,
        checkpoint: {
          walkOffset: offset + page.data.length,
          clerkTotal: page.totalCount,
          phase: last ? (incremental ? "done" : "confirm") : "walk",
        },
      });
      progress("walk");
      if (last) return;
    }
  }

  async function confirmDeletions() {
    for (;;) {
      await heartbeat();
      const cursor = run.confirmCursor;
      const candidates = await timedDatabase(() => deletionCandidates(db, { users: table, seen }, run.id, cursor, confirmBatchSize));
      if (!candidates.length) {
        await timedDatabase(() => db.update(runs).set({ phase: "done", updatedAt: sql`now()` }).where(eq(runs.id, run.id)));
        return;
      }
      const ids = candidates.map((c) => c.id);
      const found = await callClerk(2, () => clerk.users.getUserList({ userId: ids, limit: ids.length }));
      // Only users Clerk returns are proof of life; a user it returns that was not asked for is ignored.
      const asked = new Set(ids);
      const alive = found.data.filter((u) => asked.has(u.id));
      const aliveIds = new Set(alive.map((u) => u.id));
      await commitBatch({
        clerkUsers: alive,
        goneIds: ids.filter((id) => !aliveIds.has(id)),
        checkpoint: { confirmCursor: ids[ids.length - 1]! },
      });
      confirmed += ids.length;
      progress("confirm");
    }
  }
}
