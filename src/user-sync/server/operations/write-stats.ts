/**
 * The statements on `user_sync_write_stats`: add a batch of counters, prune old buckets, read
 * totals. Telemetry (telemetry.ts) buffers the counters and decides when these run.
 */
import { sql } from "drizzle-orm";

import { rowsOf, type UserSyncDatabase } from "../database";
import type { UserSyncSource } from "../events";
import { dataChangingOutcomes, type WriteOutcome } from "../outcomes";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

type WriteStatsTable = UserSyncTables["userSyncWriteStats"];

/** One counter: write attempts of one minute, source, outcome, Clerk-called and error code. */
export type Counter = {
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

/** Adds `counter` into `into`, merged with the counter of the same key. */
export function addCounter(into: Map<string, Counter>, counter: Counter) {
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

/** Adds the counters to their rows in one multi-row `INSERT … ON CONFLICT DO UPDATE`. */
export async function writeCounters(db: UserSyncDatabase, userSyncWriteStats: WriteStatsTable, counters: Iterable<Counter>): Promise<void> {
  const rows = [...counters].map((c) => ({
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
}

/**
 * Deletes at most one batch of buckets older than `cutoff`, if no other instance is pruning
 * (transaction-scoped advisory lock, released by the statement's end). Resolves to the number of
 * rows deleted.
 */
export async function pruneWriteStats(db: UserSyncDatabase, userSyncWriteStats: WriteStatsTable, cutoff: Date, pruneBatchSize: number): Promise<number> {
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
