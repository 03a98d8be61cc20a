/**
 * The health check's one statement: every figure PostgreSQL holds (the mirror's counts, webhook
 * delivery, write telemetry, the last succeeded reconciliation), in one row.
 */
import { sql } from "drizzle-orm";

import type { SyncedUsersTable, UserSyncTables } from "../schema";
import type { LastReconcileRun } from "./health-rules";
import type { WriteStatsRow } from "./telemetry";

/**
 * Every figure PostgreSQL holds, in one row. Times come back as epoch milliseconds and counts
 * as int or float8, so every driver hands over numbers (node-postgres and neon return bigint
 * and timestamps as text from a raw statement); the nested rows are json, which PGlite may
 * hand over as text.
 */
export function healthFiguresStatement(table: SyncedUsersTable, tables: UserSyncTables, dayAgo: Date, hourAgo: Date) {
  const { clerkWebhookEvents: inbox, userSyncWriteStats: stats, userSyncReconcileRuns: runs } = tables;
  const column = (target: { name: string }) => sql.identifier(target.name);
  const epochMs = (value: ReturnType<typeof sql>) => sql`(extract(epoch from ${value}) * 1000)::float8`;
  return sql`
    select
      mirror.live_users, mirror.tombstones,
      (select ${epochMs(sql`max(${inbox.receivedAt})`)} from ${inbox} where ${inbox.outcome} <> 'dead_letter') as last_webhook_ms,
      (select percentile_cont(0.95) within group (order by lag_ms)::float8 from (
        select greatest(0, extract(epoch from ${inbox.processedAt}) * 1000 - ${inbox.eventTimestampMs})::float8 as lag_ms
        from ${inbox}
        where ${inbox.receivedAt} >= ${dayAgo.toISOString()}::timestamptz
          and ${inbox.outcome} <> 'dead_letter'
          and ${inbox.processedAt} is not null and ${inbox.eventTimestampMs} is not null
        order by ${inbox.receivedAt} desc
        limit 100
      ) as recent) as webhook_lag_p95_ms,
      (select count(*)::int from ${inbox} where ${inbox.outcome} = 'dead_letter') as dead_letters,
      (select ${epochMs(sql`min(${stats.bucketStart})`)} from ${stats}) as observed_since_ms,
      (select coalesce(json_agg(json_build_object('source', source, 'outcome', outcome, 'clerkFetched', clerk_fetched,
          'lastHour', last_hour, 'lastDay', last_day)), '[]'::json) from (
        select ${stats.source} as source, ${stats.outcome} as outcome, ${stats.clerkFetched} as clerk_fetched,
          coalesce(sum(${stats.count}) filter (where ${stats.bucketStart} >= ${hourAgo.toISOString()}::timestamptz), 0)::float8 as last_hour,
          sum(${stats.count})::float8 as last_day
        from ${stats}
        where ${stats.bucketStart} >= ${dayAgo.toISOString()}::timestamptz
        group by 1, 2, 3
      ) as buckets) as write_stats,
      (select json_build_object('runId', ${column(runs.id)}, 'finishedAtMs', ${epochMs(sql`${column(runs.finishedAt)}`)}, 'dryRun', ${column(runs.dryRun)},
          'missing', ${column(runs.missing)}, 'stale', ${column(runs.stale)}, 'deleted', ${column(runs.deleted)}, 'unchanged', ${column(runs.unchanged)})
        from ${runs}
        where ${column(runs.status)} = 'succeeded' and ${column(runs.finishedAt)} is not null
        order by ${column(runs.finishedAt)} desc
        limit 1) as last_reconcile
    from (
      select count(*) filter (where ${table.deletedAt} is null)::int as live_users, count(*) filter (where ${table.deletedAt} is not null)::int as tombstones
      from ${table}
    ) as mirror`;
}

export type HealthFiguresRow = {
  live_users: number;
  tombstones: number;
  last_webhook_ms: number | null;
  webhook_lag_p95_ms: number | null;
  dead_letters: number;
  observed_since_ms: number | null;
  write_stats: (WriteStatsRow & { lastHour: number; lastDay: number })[] | string;
  last_reconcile: { runId: string; finishedAtMs: number; dryRun: boolean; missing: number; stale: number; deleted: number; unchanged: number } | string | null;
};

/** The last succeeded run as the figures statement returns it. */
export function reconcileRunOf(
  run: { runId: string; finishedAtMs: number; dryRun: boolean; missing: number; stale: number; deleted: number; unchanged: number } | null,
): LastReconcileRun | null {
  if (!run) return null;
  return {
    runId: run.runId,
    finishedAt: new Date(Number(run.finishedAtMs)),
    dryRun: run.dryRun,
    counts: { missing: Number(run.missing), stale: Number(run.stale), deleted: Number(run.deleted), unchanged: Number(run.unchanged) },
  };
}

// PGlite hands json over as text; the other drivers parse it.
export function parseJson<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}
