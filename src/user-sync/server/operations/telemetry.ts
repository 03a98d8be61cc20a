/**
 * Persisted write telemetry: every write attempt (client sync, webhook, reconciliation, profile
 * update) counted in PostgreSQL per minute, source, outcome, Clerk-called and error code, so
 * the health view sees every instance's writes. No user data is stored.
 *
 * Cheap on the hot path: `record` only adds to an in-process map; one multi-row
 * `INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count` writes them. When the host
 * gives a `schedule` (Next's `after`, a platform's `waitUntil`), a flush is scheduled there for
 * the request that counted, so a serverless function frozen once its response and scheduled
 * work are done has written every count (concurrent requests share one flush); otherwise, and
 * when the scheduler refuses (outside a request), the flush interval's timer writes them, and a
 * crash loses at most one interval of counts (`close()` on shutdown writes the rest). Old buckets
 * are pruned in bounded batches by whichever instance holds the prune advisory lock, after its flush.
 */
import { sql } from "drizzle-orm";

import { type BackgroundScheduler, scheduleInBackground } from "../background";
import { databaseErrorCode, rowsOf, type UserSyncDatabase } from "../database";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";
import type { UserSyncEvent, UserSyncSource } from "../events";
import { dataChangingOutcomes, type WriteOutcome } from "../outcomes";

export type WriteTelemetryOptions = {
  /** The host's database (postgres.js or PGlite drizzle instance). */
  db: () => Promise<UserSyncDatabase>;
  /** Buffered counts are written at least this often (default 5 s). */
  flushIntervalMs?: number;
  /** Flush early when this many distinct counters are buffered (default 200). */
  maxBufferedKeys?: number;
  /** Buckets older than this are pruned (default 14 days). */
  retentionDays?: number;
  /** Rows pruned per batch (default 5000); one batch per `pruneIntervalMs` per instance. */
  pruneBatchSize?: number;
  pruneIntervalMs?: number;
  /** A failed flush keeps its counts for the next one; this hears about it (error code only). */
  onFlushError?: (error: { code: string | null; bufferedKeys: number; droppedEvents: number }) => void;
  /** The counters' table (the host's `userSyncTables()`); default the plugin's own name. */
  table?: UserSyncTables["userSyncWriteStats"];
  /**
   * Where the flush (and the prune after it) runs: called during the request that counted, with
   * a task the platform must let finish after the response (`(task) => after(task)` with Next,
   * `(task) => waitUntil(task())` elsewhere). A scheduler that throws (called outside a request)
   * leaves the counts to the flush interval's timer.
   */
  schedule?: BackgroundScheduler;
  /** Clock, for tests. */
  now?: () => number;
};

/** A write event as telemetry takes it: `count` folds a batch of identical attempts into one call. */
export type WriteTelemetryEvent = UserSyncEvent & { count?: number };

export const writeStatsBucketMs = 60_000;

type Counter = {
  bucketStartMs: number;
  source: string;
  outcome: string;
  clerkFetched: boolean;
  errorCode: string;
  count: number;
  durationMsTotal: number;
  durationMsMax: number;
};

/** Advisory lock key of the single pruner (an arbitrary constant, the same on every instance). */
export const telemetryPruneLockKey = 7_354_120_901;

const tokenPattern = /^[A-Za-z0-9_.:-]{1,40}$/;

/** Source, outcome and error code are fixed vocabularies; anything else is stored as "other". */
function token(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  return tokenPattern.test(value) ? value : "other";
}

export function createWriteTelemetry(options: WriteTelemetryOptions) {
  const flushIntervalMs = options.flushIntervalMs ?? 5_000;
  const maxBufferedKeys = options.maxBufferedKeys ?? 200;
  const retentionMs = (options.retentionDays ?? 14) * 86_400_000;
  const pruneBatchSize = options.pruneBatchSize ?? 5_000;
  const pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  const userSyncWriteStats = options.table ?? defaultUserSyncTables.userSyncWriteStats;
  // Counters that failed to flush are kept, but not without bound while the database is down.
  const maxKeptKeys = maxBufferedKeys * 50;

  let buffer = new Map<string, Counter>();
  let timer: NodeJS.Timeout | null = null;
  // A flush handed to the host's scheduler that has not started yet: later counts ride on it.
  let flushScheduled = false;
  let flushing: Promise<void> | null = null;
  let lastPruneAtMs = 0;
  let droppedEvents = 0;

  function add(into: Map<string, Counter>, counter: Counter) {
    const key = `${counter.bucketStartMs}|${counter.source}|${counter.outcome}|${counter.clerkFetched}|${counter.errorCode}`;
    const existing = into.get(key);
    if (existing) {
      existing.count += counter.count;
      existing.durationMsTotal += counter.durationMsTotal;
      existing.durationMsMax = Math.max(existing.durationMsMax, counter.durationMsMax);
    } else {
      into.set(key, { ...counter });
    }
  }

  function schedule() {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, flushIntervalMs);
    // Never keeps a process (a CLI, a test) alive on its own.
    timer.unref();
  }

  /** Counts one write attempt (or `count` identical ones). Synchronous, no I/O. */
  function record(event: WriteTelemetryEvent) {
    const count = Math.max(1, Math.floor(event.count ?? 1));
    const durationMs = Math.max(0, Math.round(Number.isFinite(event.durationMs) ? event.durationMs : 0));
    const atMs = now();
    add(buffer, {
      bucketStartMs: atMs - (atMs % writeStatsBucketMs),
      source: token(event.source) || "other",
      outcome: token(event.outcome) || "other",
      clerkFetched: event.clerkFetched,
      errorCode: token(event.errorCode),
      count,
      durationMsTotal: durationMs * count,
      durationMsMax: Math.min(durationMs, 2_147_483_647),
    });
    if (buffer.size >= maxBufferedKeys) void flush();
    else {
      scheduleWithHost();
      schedule();
    }
  }

  /** A flush through the host's scheduler, unless one is already waiting to start. */
  function scheduleWithHost() {
    if (!options.schedule || flushScheduled) return;
    flushScheduled = true;
    const handedOver = scheduleInBackground(options.schedule, async () => {
      flushScheduled = false;
      await flush();
    });
    // Refused (outside a request): the timer writes these counts.
    if (!handedOver) flushScheduled = false;
  }

  /** Writes the buffered counts in one statement; concurrent calls share one flush. */
  function flush(): Promise<void> {
    if (flushing) return flushing.then(() => (buffer.size ? flush() : undefined));
    if (buffer.size === 0) return Promise.resolve();
    const batch = buffer;
    buffer = new Map();
    flushing = write(batch).finally(() => {
      flushing = null;
    });
    return flushing;
  }

  async function write(batch: Map<string, Counter>) {
    try {
      const db = await options.db();
      const rows = [...batch.values()].map((c) => ({
        bucketStart: new Date(c.bucketStartMs),
        source: c.source,
        outcome: c.outcome,
        clerkFetched: c.clerkFetched,
        errorCode: c.errorCode,
        count: c.count,
        durationMsTotal: c.durationMsTotal,
        durationMsMax: c.durationMsMax,
      }));
      await db
        .insert(userSyncWriteStats)
        .values(rows)
        .onConflictDoUpdate({
          target: [
            userSyncWriteStats.bucketStart,
            userSyncWriteStats.source,
            userSyncWriteStats.outcome,
            userSyncWriteStats.clerkFetched,
            userSyncWriteStats.errorCode,
          ],
          set: {
            count: sql`${userSyncWriteStats.count} + excluded.count`,
            durationMsTotal: sql`${userSyncWriteStats.durationMsTotal} + excluded.duration_ms_total`,
            durationMsMax: sql`greatest(${userSyncWriteStats.durationMsMax}, excluded.duration_ms_max)`,
          },
        });
    } catch (error) {
      // Keep the counts for the next flush; beyond the bound, count what is dropped.
      for (const counter of batch.values()) {
        if (buffer.size < maxKeptKeys) add(buffer, counter);
        else droppedEvents += counter.count;
      }
      schedule();
      try {
        options.onFlushError?.({ code: databaseErrorCode(error), bufferedKeys: buffer.size, droppedEvents });
      } catch {
        // A broken reporter must not break the next flush.
      }
      return;
    }
    if (now() - lastPruneAtMs >= pruneIntervalMs) {
      lastPruneAtMs = now();
      await prune().catch(() => undefined);
    }
  }

  /**
   * Deletes at most one batch of buckets older than the retention period, if no other
   * instance is pruning (transaction-scoped advisory lock, released by the statement's end).
   * Resolves to the number of rows deleted.
   */
  async function prune(): Promise<number> {
    const db = await options.db();
    const cutoff = new Date(now() - retentionMs);
    const deleted = rowsOf<{ deleted: number }>(
      await db.execute(sql`
        with lock as (select pg_try_advisory_xact_lock(${telemetryPruneLockKey}::bigint) as held),
        doomed as (
          select ctid from ${userSyncWriteStats}
          where bucket_start < ${cutoff.toISOString()}::timestamptz and (select held from lock)
          limit ${pruneBatchSize}
        ),
        gone as (delete from ${userSyncWriteStats} where ctid in (select ctid from doomed) returning 1)
        select count(*)::int as deleted from gone`),
    );
    return Number(deleted[0]?.deleted ?? 0);
  }

  return {
    record,
    flush,
    prune,
    /** Counts lost because the database was unreachable for too long, since start. */
    droppedEvents: () => droppedEvents,
    /** Stops the timer and writes what is buffered (call on shutdown). */
    async close() {
      if (timer) clearTimeout(timer);
      timer = null;
      await flush();
    },
  };
}

export type WriteTelemetry = ReturnType<typeof createWriteTelemetry>;

/** Write attempts counted since `since`: per source and outcome, with Clerk calls and errors. */
export type WriteStatsTotals = {
  /** `{ [source]: { [outcome]: count } }` */
  outcomes: Record<string, Record<string, number>>;
  /** `client-sync` writes that changed the mirror (created, updated, restored): the self-heal path. */
  selfHeals: number;
  /** `client-sync` attempts that called Clerk, whatever their outcome. */
  clientSyncClerkFetches: number;
  errors: number;
};

/** Counts per source, outcome and whether Clerk was called, as `writeStatsTotals` takes them. */
export type WriteStatsRow = { source: string; outcome: string; clerkFetched: boolean; count: number };

/** Totals of grouped write counts: per source and outcome, self-heals, client syncs that called Clerk, errors. */
export function writeStatsTotals(rows: readonly WriteStatsRow[]): WriteStatsTotals {
  const totals: WriteStatsTotals = { outcomes: {}, selfHeals: 0, clientSyncClerkFetches: 0, errors: 0 };
  for (const row of rows) {
    const count = Number(row.count);
    if (count === 0) continue;
    const bySource = (totals.outcomes[row.source] ??= {});
    bySource[row.outcome] = (bySource[row.outcome] ?? 0) + count;
    if (row.outcome === "error") totals.errors += count;
    if (row.source === ("client-sync" satisfies UserSyncSource)) {
      if (row.clerkFetched) totals.clientSyncClerkFetches += count;
      if (dataChangingOutcomes.has(row.outcome as WriteOutcome)) totals.selfHeals += count;
    }
  }
  return totals;
}

export async function readWriteStats(
  db: UserSyncDatabase,
  since: Date,
  userSyncWriteStats: UserSyncTables["userSyncWriteStats"] = defaultUserSyncTables.userSyncWriteStats,
): Promise<WriteStatsTotals> {
  const rows = await db
    .select({
      source: userSyncWriteStats.source,
      outcome: userSyncWriteStats.outcome,
      clerkFetched: userSyncWriteStats.clerkFetched,
      count: sql<number>`sum(${userSyncWriteStats.count})::float8`,
    })
    .from(userSyncWriteStats)
    .where(sql`${userSyncWriteStats.bucketStart} >= ${since.toISOString()}::timestamptz`)
    .groupBy(userSyncWriteStats.source, userSyncWriteStats.outcome, userSyncWriteStats.clerkFetched);
  return writeStatsTotals(rows);
}
