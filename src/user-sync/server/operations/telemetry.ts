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
import { type BackgroundScheduler, scheduleInBackground } from "../background";
import { databaseErrorCode, type UserSyncDatabase } from "../database";
import type { UserSyncEvent } from "../events";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";
import { addCounter, pruneWriteStats, writeCounters, type Counter } from "./write-stats";

export { readWriteStats, telemetryPruneLockKey, writeStatsTotals, type WriteStatsRow, type WriteStatsTotals } from "./write-stats";

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

const tokenPattern = /^[A-Za-z0-9_.:-]{1,40}$/;

/** Source, outcome and error code are fixed vocabularies; anything else is stored as "other". */
function token(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  return tokenPattern.test(value) ? value : "other";
}

/** The options with their defaults. */
function telemetrySettings(options: WriteTelemetryOptions) {
  const maxBufferedKeys = options.maxBufferedKeys ?? 200;
  return {
    flushIntervalMs: options.flushIntervalMs ?? 5_000,
    maxBufferedKeys,
    retentionMs: (options.retentionDays ?? 14) * 86_400_000,
    pruneBatchSize: options.pruneBatchSize ?? 5_000,
    pruneIntervalMs: options.pruneIntervalMs ?? 60_000,
    now: options.now ?? Date.now,
    userSyncWriteStats: options.table ?? defaultUserSyncTables.userSyncWriteStats,
    // Counters that failed to flush are kept, but not without bound while the database is down.
    maxKeptKeys: maxBufferedKeys * 50,
  };
}

/** The counter of one event (or `count` identical ones) at `atMs`. */
function counterOf(event: WriteTelemetryEvent, atMs: number): Counter {
  const count = Math.max(1, Math.floor(event.count ?? 1));
  const durationMs = Math.max(0, Math.round(Number.isFinite(event.durationMs) ? event.durationMs : 0));
  return {
    bucketStartMs: atMs - (atMs % writeStatsBucketMs),
    source: token(event.source) || "other",
    outcome: token(event.outcome) || "other",
    clerkFetched: event.clerkFetched,
    errorCode: token(event.errorCode),
    count,
    durationMsTotal: durationMs * count,
    durationMsMax: Math.min(durationMs, 2_147_483_647),
  };
}

export function createWriteTelemetry(options: WriteTelemetryOptions) {
  const { flushIntervalMs, maxBufferedKeys, retentionMs, pruneBatchSize, pruneIntervalMs, now, userSyncWriteStats, maxKeptKeys } = telemetrySettings(options);

  let buffer = new Map<string, Counter>();
  let timer: NodeJS.Timeout | null = null;
  // A flush handed to the host's scheduler that has not started yet: later counts ride on it.
  let flushScheduled = false;
  let flushing: Promise<void> | null = null;
  let lastPruneAtMs = 0;
  let droppedEvents = 0;

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
    addCounter(buffer, counterOf(event, now()));
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
      await writeCounters(await options.db(), userSyncWriteStats, batch.values());
    } catch (error) {
      // Keep the counts for the next flush; beyond the bound, count what is dropped.
      for (const counter of batch.values()) {
        if (buffer.size < maxKeptKeys) addCounter(buffer, counter);
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

  /** Deletes at most one batch of buckets older than the retention period (see `pruneWriteStats`); resolves to the rows deleted. */
  async function prune(): Promise<number> {
    return pruneWriteStats(await options.db(), userSyncWriteStats, new Date(now() - retentionMs), pruneBatchSize);
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

