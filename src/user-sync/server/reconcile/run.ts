/**
 * Reconciliation: repairs the mirror from Clerk's user list, for the users the client sync
 * cannot heal (never signed in, deleted while signed out with the webhook lost, a database
 * restored from backup). One implementation behind the admin API, the console and the CLI; the
 * most careful writer of the product:
 *
 * 1. A lease, not a held connection (lease.ts): one run at a time across instances, a frozen or
 *    killed holder is taken over when its lease expires, and every write is fenced by it.
 * 2. Proof of instance, fresh each run, before anything is written (instance-proof.ts): the
 *    Backend API's JWKS must hold the app's own instance key, else the run is refused as a whole.
 * 3. Full mode walks Clerk's list with the `starting_after` cursor in `+created_at` order (never a
 *    deep offset): the checkpoint is the cursor, deletions cannot shift it, users created during
 *    the walk come at its end. A cursor Clerk refuses (its user deleted meanwhile), or a short
 *    page, is checked again from the cursor's `created_at`.
 * 4. Each batch is one statement (page-write.ts): its ids recorded as seen, compared with their
 *    mirror rows, repaired by one multi-row upsert with the write path's guards, and the run's
 *    counts and checkpoint moved. A killed run continues where it stopped.
 * 5. Deletions: after the walk, the mirror is gone through in bounded id windows; its live rows
 *    not walked are asked of Clerk by `user_id` (100 per call) with Clerk's count for the same
 *    filter. Only a conclusive answer (the page's length is Clerk's count, or a 404
 *    `resource_not_found` for that id) counts as gone; anything else is "unconfirmed": reported,
 *    never tombstoned, asked again next run.
 * 6. The mass-deletion guard: an apply run that would tombstone more than its limit (default:
 *    more than 10 users and more than 2% of live rows) writes no tombstone and is refused, unless
 *    forced.
 * 7. Incremental mode walks `-updated_at` by offset, with overlapping pages whose continuity is
 *    checked (a deletion shifting the list makes it read again, never skip), never deeper than
 *    its depth: past it the run stops and says to run full mode.
 * 8. Every statement touches a bounded number of rows; memory stays flat (one page at a time,
 *    the seen set in PostgreSQL, the diff list capped); every Clerk call draws from the budget.
 */
import { randomUUID } from "node:crypto";

import { and, desc, eq, inArray, lt, sql, type SQL } from "drizzle-orm";

import type { ClerkBackendApiOptions } from "../clerk/backend-api";
import { ClerkRefusedError } from "../clerk/backend-api";
import type { ClerkBudget } from "../clerk/budget";
import { snapshotFromUserJson, type ClerkUserSnapshot } from "../clerk/user-json";
import { defaultUserSyncTables, syncedTableOf, type ReconcileMode, type ReconcilePhase, type ReconcileRunRow, type UserSyncTables } from "../schema";
import { guardedEmitter, type UsersTable, type UserSyncEvent } from "../sync";
import type { UserSyncDatabase } from "../write-path";
import { createReconcileClerk, userNotFound, type ReconcileClerk } from "./clerk-calls";
import { ReconcileClerkError, ReconcileLeaseLostError, ReconcileRefusedError, type ReconcileRefusalCode } from "./errors";
import { expectedInstance, instanceRefusal } from "./instance-proof";
import { takeLease, type ReconcileLease } from "./lease";
import {
  clearSeenSet,
  commitReconcilePage,
  commitTombstones,
  deletionCandidates,
  type ReconcileCheckpoint,
  type ReconcileRunState,
  type ReconcileTables,
} from "./page-write";
import { countsOf, type ReconcileProgress, type ReconcileReport } from "./report";
import { rowsOf } from "./sql";

/** Clerk's largest page: `limit` over 500 is not refused, it silently answers 10 users. */
export const maxPageSize = 500;
/** Incremental runs never ask for an offset at or past this many users (the default `incrementalMaxDepth`). */
export const defaultIncrementalMaxDepth = 5_000;
/** Rows of the mirror one statement of the deletion check goes through. */
const defaultDeletionCheckWindowRows = 10_000;
const tombstoneBatchSize = 1_000;
const seenClearBatchSize = 10_000;
/** `max_deletions` of a forced run: every confirmed deletion allowed. */
const forcedAllowance = 2_147_483_647;
/** Step-backs of an incremental walk whose pages stopped overlapping (Clerk's list shrinking fast) before it gives up. */
const maxIncrementalStepBacks = 20;

export type ReconcileOptions = {
  db: UserSyncDatabase;
  /** The host's users table, built with `userSyncColumns()`. */
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: UserSyncTables;
  /** Clerk's Backend API: the instance's secret key and its URL (the plugin's own client). */
  clerk: ClerkBackendApiOptions;
  /** The Backend API budget shared with live `user.sync` calls. */
  budget: ClerkBudget;
  /**
   * The app's Clerk instance id (`CLERK_INSTANCE_ID`, `ins_…`). Unset: the signing key of the
   * sessions `user.sync` verified most recently. Neither: every run is refused (`CLERK_INSTANCE_UNPROVEN`).
   */
  instanceId?: string;
  /** Default true: report, write no user rows. */
  dryRun?: boolean;
  /** Default "full". */
  mode?: ReconcileMode;
  /** Users per list page, 1–500 (Clerk's maximum, 500, by default; anything else is clamped). */
  pageSize?: number;
  /** Deletion candidates per confirmation call (Clerk's `user_id` filter takes at most 100). */
  confirmBatchSize?: number;
  /** How many changes the report lists (default 1000). */
  maxChanges?: number;
  /** Incremental runs re-read users updated this long before the previous run started (default 5 min). */
  incrementalOverlapMs?: number;
  /** Incremental runs stop (refused `INCREMENTAL_TOO_DEEP`: run full mode) rather than ask for an offset this deep (default 5000). */
  incrementalMaxDepth?: number;
  /** An unfinished full apply run checkpointed longer ago than this is not resumed (default 24 h). */
  resumeWithinMs?: number;
  /** Finished runs older than this are deleted when a run starts (default 30 days). */
  retentionMs?: number;
  /**
   * The most tombstones an apply run may write (`USER_SYNC_RECONCILE_MAX_DELETIONS`). Default:
   * more than 10 and more than 2% of the live rows is refused. Over it: `MASS_DELETION_REFUSED`.
   */
  maxDeletions?: number;
  /** This run may write every confirmed tombstone, whatever the guard says (`force=true`). */
  force?: boolean;
  /** This run may write up to this many tombstones (an admin confirmed that many), or the guard's limit if higher. */
  allowDeletionsUpTo?: number;
  /** A lease lasts this long after its last renewal (default 60 s): a stopped run is taken over after it. */
  leaseSeconds?: number;
  /** Rows of the mirror per statement of the deletion check (default 10,000). */
  deletionCheckWindowRows?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ReconcileProgress) => void;
  /** One event per write attempt (`source: "reconcile"`). */
  onEvent?: (event: UserSyncEvent) => void;
  /** Bound on one Backend API request (default 30 s): it is aborted and sent again. */
  clerkTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
};

/**
 * Runs one reconciliation (or resumes the unfinished full apply run). Throws
 * `ReconcileLockedError` when another run holds the lease, `ReconcileRefusedError` when a guard
 * refuses it (instance not proven, mass deletion, incremental too deep), `ReconcileClerkError`
 * when Clerk keeps failing and `ReconcileLeaseLostError` when this run lost its lease; a failure
 * leaves the checkpoint for the next run.
 */
export async function runReconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const tables = options.tables ?? defaultUserSyncTables;
  const timer = databaseTimer();
  const lease = await takeLease(options.db, tables.userSyncReconcileLease, { leaseSeconds: options.leaseSeconds, onDatabaseCall: timer.timed });
  try {
    return await reconcileHoldingLease(options, tables, lease, timer);
  } finally {
    await lease.release();
  }
}

/** Time in the database, and the longest single call (each call is one statement). */
function databaseTimer() {
  const totals = { databaseMs: 0, longestMs: 0 };
  const timed = async <T>(work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const elapsed = performance.now() - started;
      totals.databaseMs += elapsed;
      totals.longestMs = Math.max(totals.longestMs, elapsed);
    }
  };
  return { totals, timed };
}

type ParsedUsers = { snapshots: ClerkUserSnapshot[]; walkedIds: string[]; malformed: number };

/** Clerk's users of one page, parsed as webhooks and `user.sync` parse them; malformed ones are kept apart (they exist in Clerk). */
function parseUsers(users: readonly unknown[]): ParsedUsers {
  const snapshots: ClerkUserSnapshot[] = [];
  const walkedIds: string[] = [];
  for (const user of users) {
    const id = (user as { id?: unknown } | null)?.id;
    try {
      const snapshot = snapshotFromUserJson(user);
      snapshots.push(snapshot);
      walkedIds.push(snapshot.id);
    } catch {
      if (typeof id === "string" && id) walkedIds.push(id);
    }
  }
  return { snapshots, walkedIds, malformed: users.length - snapshots.length };
}

/** A user's place in `+created_at` order: what a `starting_after` cursor stands on. */
type Cursor = { id: string; createdAtMs: number };

function cursorOf(users: readonly unknown[], previous: Cursor | null): Cursor | null {
  const last = users[users.length - 1] as { id?: unknown; created_at?: unknown } | undefined;
  if (!last || typeof last.id !== "string") return previous;
  return { id: last.id, createdAtMs: typeof last.created_at === "number" ? last.created_at : (previous?.createdAtMs ?? 0) };
}

const updatedAtOf = (user: unknown): number | null => {
  const value = (user as { updated_at?: unknown } | null)?.updated_at;
  return typeof value === "number" ? value : null;
};
const idOf = (user: unknown): string | null => {
  const value = (user as { id?: unknown } | null)?.id;
  return typeof value === "string" ? value : null;
};

async function reconcileHoldingLease(
  options: ReconcileOptions,
  tables: UserSyncTables,
  lease: ReconcileLease,
  timer: ReturnType<typeof databaseTimer>,
): Promise<ReconcileReport> {
  const { db, signal } = options;
  const now = options.now ?? Date.now;
  const startedAtMs = now();
  const dryRun = options.dryRun ?? true;
  const mode = options.mode ?? "full";
  const pageSize = Math.min(maxPageSize, Math.max(1, Math.floor(options.pageSize ?? maxPageSize)));
  const confirmBatchSize = Math.min(100, Math.max(1, options.confirmBatchSize ?? 100));
  const maxChanges = options.maxChanges ?? 1000;
  const runsTable = tables.userSyncReconcileRuns;
  const seenTable = tables.userSyncReconcileSeen;
  const batchTables: ReconcileTables = { users: syncedTableOf(options.users), seen: seenTable, runs: runsTable };
  const emit = guardedEmitter(options.onEvent);
  const timed = timer.timed;
  const clerk: ReconcileClerk = createReconcileClerk({
    clerk: options.clerk,
    budget: options.budget,
    timeoutMs: options.clerkTimeoutMs,
    signal,
    check: () => lease.check(),
  });

  const r = (key: keyof ReconcileRunRow) => sql.identifier(runsTable[key].name);
  /** One fenced statement on the run row (`set` as SQL assignments); it renews the lease. */
  async function updateRun(runId: string, set: SQL, attach = false) {
    const result = await timed(() =>
      db.execute(sql`
        with ${lease.renewCte(attach ? sql`${runId}::text` : undefined)},
        updated as (update ${runsTable} set ${set}, ${r("updatedAt")} = now() where ${r("id")} = ${runId} and ${lease.held} returning 1)
        select (select count(*) from lease_held)::int as held`),
    );
    if (!rowsOf<{ held: number }>(result)[0]?.held) lease.markLost();
  }

  let run = await startOrResume();
  const resumed = run.attempts > 1;
  let changesStored = run.changes.length;
  let requestsCommitted = clerk.requests;

  /** Clears a run's seen ids, a batch per statement. */
  const clearSeen = (runId: string) => clearSeenSet(db, seenTable, { runId, lease, batch: seenClearBatchSize, timed });

  async function startOrResume(): Promise<ReconcileRunRow> {
    const retentionMs = options.retentionMs ?? 30 * 24 * 3600_000;
    await timed(() => db.delete(runsTable).where(and(lt(runsTable.startedAt, new Date(now() - retentionMs)), sql`${runsTable.status} <> 'running'`)));
    const unfinished = await timed(() =>
      db.select().from(runsTable).where(inArray(runsTable.status, ["running", "failed"])).orderBy(desc(runsTable.startedAt)),
    );
    const resumeAfter = new Date(now() - (options.resumeWithinMs ?? 24 * 3600_000));
    let resumable: ReconcileRunRow | undefined;
    const abandon: ReconcileRunRow[] = [];
    for (const candidate of unfinished) {
      const expired = candidate.updatedAt <= resumeAfter;
      // Only a full apply run is resumed, by the next full apply run (an incremental run is
      // short and starts again); every other unfinished run is abandoned. A dry run or an
      // incremental run leaves a full apply run's checkpoint alone until it expires.
      const sameKind = !dryRun && mode === "full" && !candidate.dryRun && candidate.mode === "full";
      if (sameKind && !expired && !resumable) {
        resumable = candidate;
        continue;
      }
      const keep = !candidate.dryRun && candidate.mode === "full" && !expired && !sameKind;
      if (!keep) abandon.push(candidate);
    }
    for (const candidate of abandon) {
      await updateRun(candidate.id, sql`${r("status")} = 'abandoned', ${r("finishedAt")} = now()`);
      await clearSeen(candidate.id);
    }
    const allowance = options.force ? forcedAllowance : (options.allowDeletionsUpTo ?? null);
    if (resumable) {
      await updateRun(
        resumable.id,
        sql`${r("status")} = 'running', ${r("attempts")} = ${r("attempts")} + 1, ${r("errorCode")} = null, ${r("finishedAt")} = null,
          ${r("maxDeletions")} = ${allowance}::int`,
        true,
      );
      const [row] = await timed(() => db.select().from(runsTable).where(eq(runsTable.id, resumable.id)));
      return row!;
    }
    let stopAtMs: number | null = null;
    if (mode === "incremental") {
      const [previous] = await timed(() =>
        db
          .select({ highWaterMarkMs: runsTable.highWaterMarkMs })
          .from(runsTable)
          .where(and(eq(runsTable.status, "succeeded"), eq(runsTable.dryRun, false)))
          .orderBy(desc(runsTable.finishedAt))
          .limit(1),
      );
      if (previous) stopAtMs = previous.highWaterMarkMs - (options.incrementalOverlapMs ?? 5 * 60_000);
    }
    const id = randomUUID();
    const inserted = await timed(() =>
      db.execute(sql`
        with ${lease.renewCte(sql`${id}::text`)},
        created as (
          insert into ${runsTable} (${r("id")}, ${r("mode")}, ${r("dryRun")}, ${r("status")}, ${r("stopAtMs")}, ${r("highWaterMarkMs")}, ${r("maxDeletions")})
          select ${id}, ${mode}, ${dryRun}, 'running', ${stopAtMs}::bigint, ${startedAtMs}::bigint, ${allowance}::int
          where ${lease.held}
          returning 1
        )
        select (select count(*) from created)::int as created`),
    );
    if (!rowsOf<{ created: number }>(inserted)[0]?.created) lease.markLost();
    const [row] = await timed(() => db.select().from(runsTable).where(eq(runsTable.id, id)));
    return row!;
  }

  function apply(state: ReconcileRunState) {
    run = { ...run, ...state };
  }

  function progress(phase: ReconcileProgress["phase"]) {
    options.onProgress?.({
      runId: run.id,
      phase,
      walked: run.walked,
      clerkTotal: run.clerkTotal,
      liveRows: run.liveRows,
      counts: countsOf(run),
      wouldDelete: run.wouldDelete,
      unconfirmed: run.unconfirmed,
      clerkRequests: run.clerkRequests + (clerk.requests - requestsCommitted),
    });
  }

  /** Requests not yet added to the run row (a read-ahead may add more while a batch commits). */
  function takeRequests() {
    const requests = clerk.requests - requestsCommitted;
    requestsCommitted = clerk.requests;
    return requests;
  }

  async function commitBatch(batch: { parsed: ParsedUsers; goneIds?: string[]; unconfirmedIds?: string[]; checkpoint: ReconcileCheckpoint }) {
    lease.check();
    const started = performance.now();
    const result = await timed(() =>
      commitReconcilePage(db, batchTables, {
        runId: run.id,
        lease,
        apply: !dryRun,
        snapshots: batch.parsed.snapshots,
        walkedIds: batch.parsed.walkedIds,
        goneIds: batch.goneIds,
        unconfirmedIds: batch.unconfirmedIds,
        room: Math.max(0, maxChanges - changesStored),
        malformed: batch.parsed.malformed,
        clerkRequests: takeRequests(),
        checkpoint: batch.checkpoint,
      }),
    );
    const walkedBefore = run.walked;
    apply(result.run);
    changesStored += result.listed;
    if (!dryRun) {
      const durationMs = performance.now() - started;
      for (const { outcome } of result.outcomes) {
        if (outcome !== "planned") emit({ source: "reconcile", outcome, clerkFetched: true, durationMs });
      }
    }
    return { fresh: run.walked - walkedBefore };
  }

  function report(status: ReconcileReport["status"]): ReconcileReport {
    return {
      runId: run.id,
      dryRun: run.dryRun,
      mode: run.mode,
      status,
      counts: countsOf(run),
      changes: run.changes,
      truncated: run.truncated,
      wouldDelete: run.wouldDelete,
      deletionLimit: run.deletionLimit,
      unconfirmed: run.unconfirmed,
      liveRows: run.liveRows,
      instanceKeyId: run.instanceKeyId,
      clerkRequests: run.clerkRequests,
      durationMs: Math.round(now() - startedAtMs),
      malformed: run.malformed,
      resumed,
      timings: {
        databaseMs: Math.round(timer.totals.databaseMs),
        clerkMs: Math.round(clerk.waitedMs),
        longestDatabaseCallMs: Math.round(timer.totals.longestMs),
      },
    };
  }

  /** Ends the run with `status`; the seen set is cleared first (a batch per statement). */
  async function finish(status: "succeeded" | "refused", errorCode: string | null) {
    await clearSeen(run.id);
    const requests = takeRequests();
    await updateRun(
      run.id,
      sql`${r("status")} = ${status}, ${r("phase")} = 'done', ${r("errorCode")} = ${errorCode}, ${r("clerkRequests")} = ${r("clerkRequests")} + ${requests}::int, ${r("finishedAt")} = now()`,
    );
    const [final] = await timed(() => db.select({ changes: runsTable.changes, truncated: runsTable.truncated }).from(runsTable).where(eq(runsTable.id, run.id)));
    run = { ...run, status, phase: "done", errorCode, clerkRequests: run.clerkRequests + requests, ...final };
  }

  async function refuse(code: ReconcileRefusalCode, message: string): Promise<never> {
    await finish("refused", code);
    throw new ReconcileRefusedError(code, message, report("refused"));
  }

  try {
    progress(phaseOf(run.phase));
    await proveInstance();
    if (run.phase === "walk") await (run.mode === "incremental" ? walkIncremental() : walkFull());
    if (run.phase === "confirm") await confirmDeletions();
    if (run.phase === "tombstone") await writeTombstones();
    await finish("succeeded", null);
    return report("succeeded");
  } catch (error) {
    if (error instanceof ReconcileRefusedError || error instanceof ReconcileLeaseLostError || lease.lost) throw error;
    const errorCode = signal?.aborted ? "ABORTED" : error instanceof ReconcileClerkError ? error.code : "FAILED";
    try {
      // Dry runs and incremental runs are not resumed: nothing is lost by abandoning them.
      const resumable = !run.dryRun && run.mode === "full";
      await updateRun(
        run.id,
        sql`${r("status")} = ${resumable ? "failed" : "abandoned"}, ${r("errorCode")} = ${errorCode},
          ${r("clerkRequests")} = ${r("clerkRequests")} + ${takeRequests()}::int, ${r("finishedAt")} = now()`,
      );
      if (!resumable) await clearSeen(run.id);
    } catch {
      // The run stays `running` without a lease: shown as interrupted, resumed or abandoned by the next run.
    }
    throw error;
  }

  async function proveInstance() {
    const expected = await timed(() => expectedInstance(db, tables.userSyncClerkSessionKeys, options.instanceId));
    const keyIds = expected ? await clerk.jwksKeyIds() : [];
    const refusal = instanceRefusal(expected, keyIds);
    if (refusal) return refuse(refusal.code, refusal.message);
    await updateRun(run.id, sql`${r("instanceKeyId")} = ${expected!.keyId}`);
    run = { ...run, instanceKeyId: expected!.keyId };
  }

  async function walkFull() {
    const clerkTotal = await clerk.count();
    let cursor: Cursor | null = run.walkCursor ? { id: run.walkCursor, createdAtMs: run.walkCursorCreatedAtMs ?? 0 } : null;
    /** Whether `next` looks for the place by `created_at` instead of the cursor. */
    let anchored = false;
    /** The cursor whose empty page was already checked (at most once per place). */
    let checkedEndAt: string | null = null;
    const fetchPage = (from: Cursor | null, anchor: boolean) => {
      // `created_at_after` is strict: one ms earlier keeps the users created in the cursor's own ms.
      const query = anchor && from
        ? { limit: pageSize, order_by: "+created_at", created_at_after: from.createdAtMs - 1 }
        : { limit: pageSize, order_by: "+created_at", starting_after: from?.id };
      const fetching = clerk.list(query);
      // Read ahead while a page commits; if that commit fails, nobody awaits this one.
      fetching.catch(() => undefined);
      return fetching;
    };
    let next = fetchPage(cursor, false);
    for (;;) {
      signal?.throwIfAborted();
      let users: unknown[];
      try {
        users = await next;
      } catch (error) {
        // Clerk refuses a cursor whose user is gone (deleted during the walk, or before a
        // resume): the place is found again by the cursor's created_at.
        if (!(error instanceof ClerkRefusedError) || anchored || !cursor) throw error;
        anchored = true;
        next = fetchPage(cursor, true);
        continue;
      }
      const wasAnchored = anchored;
      anchored = false;
      const after = cursorOf(users, cursor);
      let done = false;
      if (users.length === pageSize) {
        next = fetchPage(after, false);
      } else if (users.length === 0 && !wasAnchored && cursor && cursor.id !== checkedEndAt) {
        // A short page is the end. An empty one after a cursor may also be a Clerk that answers
        // nothing for a cursor whose user was deleted: looked at once from its created_at.
        checkedEndAt = cursor.id;
        anchored = true;
        next = fetchPage(cursor, true);
      } else {
        done = true;
      }
      if (users.length > 0 || done) {
        await commitBatch({
          parsed: parseUsers(users),
          checkpoint: { walkCursor: after?.id, walkCursorCreatedAtMs: after?.createdAtMs, clerkTotal, phase: done ? "confirm" : undefined },
        });
      }
      cursor = after;
      progress("walk");
      if (done) return;
    }
  }

  async function walkIncremental() {
    const maxDepth = options.incrementalMaxDepth ?? defaultIncrementalMaxDepth;
    const overlap = Math.max(1, Math.floor(pageSize / 10));
    const stopAtMs = run.stopAtMs;
    let offset = 0;
    let previous: { tail: Set<string>; lowestUpdatedAtMs: number } | null = null;
    let stepBacks = 0;
    for (;;) {
      signal?.throwIfAborted();
      if (offset >= maxDepth) {
        return refuse(
          "INCREMENTAL_TOO_DEEP",
          `More users changed since the last run than an incremental run reads (${maxDepth}, without asking Clerk for a deeper offset): what it read was applied; run a full reconciliation (mode=full).`,
        );
      }
      const users = await clerk.list({ limit: pageSize, offset, order_by: "-updated_at" });
      // Pages overlap: the new one must start inside the last one (one of its last users, or a
      // newer clock than its oldest), else users were deleted meanwhile and the list moved up
      // past some: step back and read again.
      if (previous && offset > 0) {
        const first = users[0];
        const firstUpdatedAtMs = first === undefined ? null : updatedAtOf(first);
        const continuous =
          users.some((user) => previous!.tail.has(idOf(user) ?? "")) || (firstUpdatedAtMs !== null && firstUpdatedAtMs > previous.lowestUpdatedAtMs);
        if (!continuous) {
          if (++stepBacks > maxIncrementalStepBacks) throw new Error("Clerk's list kept shifting under the incremental walk");
          offset = Math.max(0, offset - (pageSize - overlap));
          continue;
        }
      }
      const newer = stopAtMs === null ? users : users.filter((user) => !((updatedAtOf(user) ?? Infinity) < stopAtMs));
      const reachedMark = newer.length < users.length;
      const last = users.length < pageSize || reachedMark;
      await commitBatch({ parsed: parseUsers(newer), checkpoint: { walkOffset: offset + users.length, phase: last ? "done" : undefined } });
      progress("walk");
      if (last) return;
      const tail = users.slice(-overlap).map(idOf).filter((id): id is string => id !== null);
      const lowest = updatedAtOf(users[users.length - 1]);
      previous = { tail: new Set(tail), lowestUpdatedAtMs: lowest ?? Number.NEGATIVE_INFINITY };
      offset += pageSize - overlap;
    }
  }

  /** Asks Clerk about live rows the walk did not see: which are there, which are conclusively gone, which are unknown. */
  async function confirm(ids: string[]) {
    const asked = new Set(ids);
    const [page, count] = await Promise.all([clerk.list({ user_id: ids, limit: ids.length }), clerk.count({ user_id: ids })]);
    const listed = page.filter((user) => asked.has(idOf(user) ?? ""));
    const listedIds = new Set(listed.map(idOf));
    const conclusive = listed.length === page.length && page.length === count;
    const alive: unknown[] = [...listed];
    const gone: string[] = [];
    const unconfirmed: string[] = [];
    for (const id of ids) {
      if (listedIds.has(id)) continue;
      if (conclusive) {
        gone.push(id);
        continue;
      }
      // Clerk's page and its count disagree: ask for this user alone; only a 404 for it is proof.
      try {
        const user = await clerk.getUser(id);
        if (user === userNotFound) gone.push(id);
        else alive.push(user);
      } catch (error) {
        if (error instanceof ReconcileLeaseLostError || signal?.aborted) throw error;
        unconfirmed.push(id);
      }
    }
    return { alive, gone, unconfirmed };
  }

  async function confirmDeletions() {
    const windowRows = options.deletionCheckWindowRows ?? defaultDeletionCheckWindowRows;
    for (;;) {
      lease.check();
      const window = await timed(() => deletionCandidates(db, batchTables, { runId: run.id, cursor: run.confirmCursor, windowRows }));
      if (window.lastId === null) {
        await commitBatch({ parsed: parseUsers([]), checkpoint: { phase: "tombstone" } });
        return;
      }
      const batches: string[][] = [];
      for (let i = 0; i < window.candidates.length; i += confirmBatchSize) batches.push(window.candidates.slice(i, i + confirmBatchSize));
      if (!batches.length) batches.push([]);
      for (const [index, ids] of batches.entries()) {
        const answer = ids.length ? await confirm(ids) : { alive: [], gone: [], unconfirmed: [] };
        const last = index === batches.length - 1;
        await commitBatch({
          parsed: parseUsers(answer.alive),
          goneIds: answer.gone,
          unconfirmedIds: answer.unconfirmed,
          // The window's end and its live rows count once all its candidates are answered.
          checkpoint: last ? { confirmCursor: window.lastId, liveRowsAdded: window.liveRows } : {},
        });
        progress("confirm");
      }
    }
  }

  async function writeTombstones() {
    const guard = options.maxDeletions ?? Math.max(10, Math.floor(run.liveRows * 0.02));
    const allowance = options.force ? Number.POSITIVE_INFINITY : (options.allowDeletionsUpTo ?? 0);
    await updateRun(run.id, sql`${r("deletionLimit")} = ${guard}::int`);
    run = { ...run, deletionLimit: guard };
    if (dryRun) return;
    if (run.wouldDelete > Math.max(guard, allowance)) {
      return refuse(
        "MASS_DELETION_REFUSED",
        `The run would tombstone ${run.wouldDelete} users, more than its limit of ${guard}: creates and updates were applied, no tombstone was written. Check Clerk, then run again with force=true (--force) to apply them.`,
      );
    }
    let cursor = run.tombstoneCursor;
    for (;;) {
      lease.check();
      const batch = await timed(() =>
        commitTombstones(db, batchTables, { runId: run.id, lease, cursor, limit: tombstoneBatchSize, room: Math.max(0, maxChanges - changesStored) }),
      );
      const listedBefore = run.deleted;
      apply(batch.run);
      changesStored = Math.min(maxChanges, changesStored + (run.deleted - listedBefore));
      for (let i = 0; i < run.deleted - listedBefore; i++) emit({ source: "reconcile", outcome: "deleted", clerkFetched: true, durationMs: 0 });
      if (batch.lastId !== null) cursor = batch.lastId;
      progress("tombstone");
      if (batch.taken < tombstoneBatchSize) return;
    }
  }
}

function phaseOf(phase: ReconcilePhase): ReconcileProgress["phase"] {
  return phase === "done" || phase === "walk" ? "walk" : phase;
}

export type { ReconcileMode };
