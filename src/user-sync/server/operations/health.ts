/**
 * The user sync's health at a glance, for operators and their monitors: Clerk's user count
 * against the mirror, webhook delivery (last, lag, dead letters), the self-heal rate from the
 * persisted write telemetry, the last reconciliation and the configuration. Every figure but
 * Clerk's count comes from PostgreSQL, so any instance answers for all of them.
 *
 * Cheap and safe behind any pooler: every figure PostgreSQL holds is read by ONE parameterised
 * statement (postgres.js pipelines parameterless statements on the simple protocol, and through
 * a transaction pooler some of their replies never come: porsager/postgres#970), and the steps
 * that may touch the database (this instance's telemetry flush, that statement, the pluggable
 * `lastReconcile`, `configProblems` and `countClerkUsers`) run one after another, so a check
 * holds at most one connection at a time. The database steps are bounded by `timeoutMs`.
 */
import { sql } from "drizzle-orm";

import { rowsOf, type UserSyncDatabase } from "../database";
import { UserSyncError } from "../errors";
import { defaultUserSyncTables, syncedTableOf, type UsersTable, type UserSyncTables } from "../schema";
import { defaultHealthThresholds, evaluateHealth, type HealthFacts, type HealthReport, type HealthThresholds, type LastReconcileRun } from "./health-rules";
import { type WriteStatsRow, writeStatsTotals } from "./telemetry";

/** Clerk's user count and when it was read from Clerk. */
export type ClerkUserCount = { count: number; readAt: Date | string };

export type UserSyncHealthOptions = {
  db: () => Promise<UserSyncDatabase>;
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: UserSyncTables;
  /**
   * Clerk's user count (`GET /v1/users/count`), drawn from the shared Clerk budget; with the time
   * it was read when it comes from a cache (a bare number was read just now).
   */
  countClerkUsers: (options?: {
    /** A count read before this is stale whatever its age: the last reconciliation finished then, and the tiles must not contradict it. */
    readAfter?: Date | null;
  }) => Promise<number | ClerkUserCount>;
  /** This instance's buffered write counts are flushed before reading. */
  telemetry?: { flush(): Promise<void> };
  /**
   * The last reconciliation run. Default: read from `tables.userSyncReconcileRuns` in the check's
   * one statement (the last run that succeeded).
   */
  lastReconcile?: () => Promise<LastReconcileRun | null>;
  /** Configuration problems, e.g. a Clerk instance mismatch. Any makes the status failing. */
  configProblems?: () => string[] | Promise<string[]>;
  /** Whether the webhook route has a signing secret: webhook silence only matters then. */
  webhooksConfigured: boolean;
  thresholds?: Partial<HealthThresholds>;
  /** Clerk's count is cached this long per instance (default 60 s). */
  clerkCountCacheMs?: number;
  /**
   * Bound on the check's database steps (the flush, the statement, `lastReconcile` and
   * `configProblems`); past it the check fails with `DATABASE_UNAVAILABLE` (the admin API's 503).
   * Clerk's count has its own bound (the Backend API timeout). Default 5000.
   */
  timeoutMs?: number;
  now?: () => number;
};

export function createUserSyncHealth(options: UserSyncHealthOptions) {
  const table = syncedTableOf(options.users);
  const { clerkWebhookEvents: inbox, userSyncWriteStats: stats, userSyncReconcileRuns: runs } = options.tables ?? defaultUserSyncTables;
  const thresholds = { ...defaultHealthThresholds, ...options.thresholds };
  const cacheMs = options.clerkCountCacheMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const now = options.now ?? Date.now;
  let cachedCount: { value: number; atMs: number; readAt: string } | null = null;

  async function clerkUserCount(readAfter: Date | null): Promise<{ value: number | null; readAt: string | null; problem: string | null }> {
    const readSinceLastReconcile = !readAfter || (cachedCount !== null && Date.parse(cachedCount.readAt) > readAfter.getTime());
    if (cachedCount && now() - cachedCount.atMs < cacheMs && readSinceLastReconcile) return { value: cachedCount.value, readAt: cachedCount.readAt, problem: null };
    try {
      const answer = await options.countClerkUsers({ readAfter });
      const value = typeof answer === "number" ? answer : answer.count;
      if (!Number.isInteger(value) || value < 0) throw new UserSyncError("CLERK_MALFORMED", "Clerk's count is not a count");
      const readAt = (typeof answer === "number" ? new Date(now()) : new Date(answer.readAt)).toISOString();
      cachedCount = { value, atMs: now(), readAt };
      return { value, readAt, problem: null };
    } catch (error) {
      // A code only: the count is figures, never user data, but messages are not ours to pass on.
      const problem = `clerk_count_unavailable: ${error instanceof UserSyncError ? error.code : "UNKNOWN"}`;
      return { value: cachedCount?.value ?? null, readAt: cachedCount?.readAt ?? null, problem };
    }
  }

  /**
   * Every figure PostgreSQL holds, in one row. Times come back as epoch milliseconds and counts
   * as int or float8, so every driver hands over numbers (node-postgres and neon return bigint
   * and timestamps as text from a raw statement); the nested rows are json, which PGlite may
   * hand over as text.
   */
  function figuresStatement(dayAgo: Date, hourAgo: Date) {
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

  type FiguresRow = {
    live_users: number;
    tombstones: number;
    last_webhook_ms: number | null;
    webhook_lag_p95_ms: number | null;
    dead_letters: number;
    observed_since_ms: number | null;
    write_stats: (WriteStatsRow & { lastHour: number; lastDay: number })[] | string;
    last_reconcile: { runId: string; finishedAtMs: number; dryRun: boolean; missing: number; stale: number; deleted: number; unchanged: number } | string | null;
  };

  /** The database's part of a check: the flush, the figures, the pluggable reads, one after another. */
  async function readDatabase(nowMs: number) {
    // This instance's last few seconds of writes count too.
    await options.telemetry?.flush().catch(() => undefined);
    const db = await options.db();
    const [row] = rowsOf<FiguresRow>(await db.execute(figuresStatement(new Date(nowMs - 86_400_000), new Date(nowMs - 3_600_000))));
    if (!row) throw new Error("The health statement returned no row");
    const lastReconcile = options.lastReconcile ? await options.lastReconcile() : reconcileRunOf(parseJson(row.last_reconcile));
    const configProblems = options.configProblems ? await options.configProblems() : [];
    return { row, lastReconcile, configProblems };
  }

  async function check(): Promise<HealthReport> {
    const nowMs = now();
    const { row, lastReconcile, configProblems } = await withTimeout(readDatabase(nowMs), timeoutMs);
    // A count read before the last reconciliation finished would contradict its "N found".
    const clerkCount = await clerkUserCount(lastReconcile ? (toDate(lastReconcile.finishedAt) ?? null) : null);

    const writeRows = parseJson(row.write_stats);
    const lastHour = writeStatsTotals(writeRows.map((r) => ({ ...r, count: Number(r.lastHour) })));
    const lastDay = writeStatsTotals(writeRows.map((r) => ({ ...r, count: Number(r.lastDay) })));
    const liveUsers = Number(row.live_users);
    const lastWebhookMs = row.last_webhook_ms === null ? null : Number(row.last_webhook_ms);
    const p95 = row.webhook_lag_p95_ms;
    const facts: HealthFacts = {
      clerkUsers: clerkCount.value,
      clerkUsersReadAt: clerkCount.readAt,
      liveUsers,
      tombstones: Number(row.tombstones),
      discrepancy: clerkCount.value === null ? null : Math.abs(clerkCount.value - liveUsers),
      lastWebhookAt: lastWebhookMs === null ? null : new Date(lastWebhookMs).toISOString(),
      webhookLagMs: p95 === null ? null : Math.round(Number(p95)),
      selfHealLastHour: lastHour.selfHeals,
      selfHealLastDay: lastDay.selfHeals,
      outcomesLastDay: lastDay.outcomes,
      errorsLastHour: lastHour.errors,
      deadLetters: Number(row.dead_letters),
      lastReconcile: lastReconcile
        ? {
            runId: lastReconcile.runId,
            finishedAt: toDate(lastReconcile.finishedAt)?.toISOString() ?? String(lastReconcile.finishedAt),
            dryRun: lastReconcile.dryRun,
            counts: lastReconcile.counts,
          }
        : null,
      configProblems,
      clerkCountProblem: clerkCount.problem,
      webhooksConfigured: options.webhooksConfigured,
      clientSyncClerkFetchesLastDay: lastDay.clientSyncClerkFetches,
      observedSince: row.observed_since_ms === null ? null : new Date(Number(row.observed_since_ms)).toISOString(),
      nowMs,
    };
    const { status, problems } = evaluateHealth(facts, thresholds);
    return {
      status,
      clerkUsers: facts.clerkUsers,
      clerkUsersReadAt: facts.clerkUsersReadAt,
      liveUsers: facts.liveUsers,
      tombstones: facts.tombstones,
      discrepancy: facts.discrepancy,
      lastWebhookAt: facts.lastWebhookAt,
      webhookLagMs: facts.webhookLagMs,
      selfHealLastHour: facts.selfHealLastHour,
      selfHealLastDay: facts.selfHealLastDay,
      outcomesLastDay: facts.outcomesLastDay,
      errorsLastHour: facts.errorsLastHour,
      deadLetters: facts.deadLetters,
      lastReconcile: facts.lastReconcile,
      configOk: configProblems.length === 0,
      problems,
    };
  }

  return { check };
}

/** The last succeeded run as the figures statement returns it. */
function reconcileRunOf(
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
function parseJson<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** `work`, or `DATABASE_UNAVAILABLE` once `timeoutMs` passed (the statement ends by the host's statement timeout). */
function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UserSyncError("DATABASE_UNAVAILABLE", `The health check's database reads did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  // A late failure of the abandoned work is not unhandled.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export type UserSyncHealth = ReturnType<typeof createUserSyncHealth>;

// postgres.js through drizzle can hand timestamps back as strings.
function toDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
