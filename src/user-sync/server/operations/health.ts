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
import { rowsOf, type UserSyncDatabase } from "../database";
import { UserSyncError } from "../errors";
import { defaultUserSyncTables, syncedTableOf, type UsersTable, type UserSyncTables } from "../schema";
import { cachedClerkCount, type ClerkCountReading, type CountClerkUsers } from "./clerk-count";
import { healthFiguresStatement, parseJson, reconcileRunOf, type HealthFiguresRow } from "./health-figures";
import { defaultHealthThresholds, evaluateHealth, type HealthFacts, type HealthReport, type HealthThresholds, type LastReconcileRun } from "./health-rules";
import { writeStatsTotals } from "./telemetry";

export type { ClerkUserCount } from "./clerk-count";

export type UserSyncHealthOptions = {
  db: () => Promise<UserSyncDatabase>;
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: UserSyncTables;
  /** Clerk's user count (`GET /v1/users/count`), drawn from the shared Clerk budget. */
  countClerkUsers: CountClerkUsers;
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
  const tables = options.tables ?? defaultUserSyncTables;
  const thresholds = { ...defaultHealthThresholds, ...options.thresholds };
  const timeoutMs = options.timeoutMs ?? 5_000;
  const now = options.now ?? Date.now;
  const clerkUserCount = cachedClerkCount(options.countClerkUsers, options.clerkCountCacheMs ?? 60_000, now);

  /** The database's part of a check: the flush, the figures, the pluggable reads, one after another. */
  async function readDatabase(nowMs: number) {
    // This instance's last few seconds of writes count too.
    await options.telemetry?.flush().catch(() => undefined);
    const db = await options.db();
    const [row] = rowsOf<HealthFiguresRow>(await db.execute(healthFiguresStatement(table, tables, new Date(nowMs - 86_400_000), new Date(nowMs - 3_600_000))));
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
    const facts = healthFacts({ row, lastReconcile, configProblems, clerkCount, webhooksConfigured: options.webhooksConfigured, nowMs });
    const { status, problems, problemDetails } = evaluateHealth(facts, thresholds);
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
      problemDetails,
    };
  }

  return { check };
}

/** The figures `evaluateHealth` judges, from the statement's row, the last run, the configuration problems and Clerk's count. */
function healthFacts(input: {
  row: HealthFiguresRow;
  lastReconcile: LastReconcileRun | null;
  configProblems: string[];
  clerkCount: ClerkCountReading;
  webhooksConfigured: boolean;
  nowMs: number;
}): HealthFacts {
  const { row, lastReconcile, clerkCount } = input;
  const writeRows = parseJson(row.write_stats);
  const lastHour = writeStatsTotals(writeRows.map((r) => ({ ...r, count: Number(r.lastHour) })));
  const lastDay = writeStatsTotals(writeRows.map((r) => ({ ...r, count: Number(r.lastDay) })));
  const liveUsers = Number(row.live_users);
  const lastWebhookMs = row.last_webhook_ms === null ? null : Number(row.last_webhook_ms);
  const p95 = row.webhook_lag_p95_ms;
  return {
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
    configProblems: input.configProblems,
    clerkCountError: clerkCount.error,
    webhooksConfigured: input.webhooksConfigured,
    clientSyncClerkFetchesLastDay: lastDay.clientSyncClerkFetches,
    observedSince: row.observed_since_ms === null ? null : new Date(Number(row.observed_since_ms)).toISOString(),
    nowMs: input.nowMs,
  };
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
