/**
 * The Postgres budget's decisions as statements: a GCRA (a token bucket kept as one "theoretical
 * arrival time") on the database's clock, decided by one atomic UPDATE of the budget's row. See
 * `createPostgresClerkBudget` for the guarantee they keep.
 */
import { sql, type SQL } from "drizzle-orm";

import { asynchronousCommit, type UserSyncDatabase } from "../database";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

export type BudgetTable = UserSyncTables["userSyncClerkBudget"];

/** The bucket's constants, derived once from the options. */
export type BudgetShape = {
  table: BudgetTable;
  /** The row's name: one budget per Clerk instance. */
  name: string;
  burst: number;
  intervalMs: number;
  reconcileBurst: number;
  reconcileIntervalMs: number;
  maxPauseMs: number;
};

export type PostgresClerkBudgetOptions = {
  /** The host's database (postgres.js or PGlite drizzle instance). */
  db: () => Promise<UserSyncDatabase>;
  /** Requests Clerk allows per window; every instance must be given the same value. */
  requestsPerWindow: number;
  /** Clerk's window (10 s). */
  windowMs?: number;
  /** The most of the budget reconciliation may take, 0 < share ≤ 1 (default 0.5). */
  reconcileShare?: number;
  /** Requests that may go out at once after a quiet spell (default a tenth of the limit). */
  burst?: number;
  /** One budget per Clerk instance: the row's name (default "clerk"). */
  name?: string;
  /** Upper bound on one pause, whatever `Retry-After` says (default 600 s). */
  maxPauseSeconds?: number;
  /** The budget table (the host's `userSyncTables()`); default the plugin's own name. */
  table?: UserSyncTables["userSyncClerkBudget"];
};

/** The bucket for `options`: limit L, burst B, sustained rate L − B − 1 per window, reconciliation's share of both. */
export function budgetShape(options: PostgresClerkBudgetOptions): BudgetShape {
  const limit = Math.floor(options.requestsPerWindow);
  if (!Number.isFinite(limit) || limit < 1) throw new RangeError("requestsPerWindow must be at least 1");
  const windowMs = options.windowMs ?? 10_000;
  if (!(windowMs > 0)) throw new RangeError("windowMs must be positive");
  const share = options.reconcileShare ?? 0.5;
  if (!(share > 0 && share <= 1)) throw new RangeError("reconcileShare must be in (0, 1]");
  const burst = Math.max(1, Math.min(limit - 2, Math.floor(options.burst ?? limit / 10)));
  const sustained = Math.max(1, limit - burst - 1);
  return {
    table: options.table ?? defaultUserSyncTables.userSyncClerkBudget,
    name: options.name ?? "clerk",
    burst,
    intervalMs: windowMs / sustained,
    reconcileBurst: Math.max(1, Math.floor(share * burst)),
    reconcileIntervalMs: windowMs / Math.max(1, Math.floor(share * sustained)),
    maxPauseMs: (options.maxPauseSeconds ?? 600) * 1000,
  };
}

// The database's clock, read after the row lock is held (a value computed before a lock wait would be stale).
export const budgetClockMs = sql`(extract(epoch from clock_timestamp()) * 1000)::float8`;

// Every decision updates the one row, so each waits for the previous one's commit: with a
// durable commit that is a WAL flush per Clerk call, in series across all instances. The
// budget's state is worth less than that: a database crash may forget the last few hundred ms
// of grants (wal_writer_delay), letting at most that many extra calls through once.

/**
 * A live decision for `requests` calls, returning `granted` and `wait_ms`. Earliest start g: after
 * any pause, and when the backlog after this take fits the burst; granted when g is within
 * `maxWaitMs`, the slot reserved in the same statement. `onlyIf` narrows the row's update (no
 * decision, no row returned, when false): `user.sync` embeds it beside its cooldown claim.
 */
export function liveDecisionStatement(shape: BudgetShape, requests: number, maxWaitMs: number, onlyIf?: SQL): SQL {
  const { table } = shape;
  const n = sql`${requests}::float8`;
  const interval = sql`${shape.intervalMs}::float8`;
  return sql`
    update ${table} as b
    set (tat_ms, last_granted, last_wait_ms) = (
      select case when d.g - d.t <= ${maxWaitMs}::float8 then greatest(b.tat_ms, d.g) + ${n} * ${interval} else b.tat_ms end,
             d.g - d.t <= ${maxWaitMs}::float8,
             greatest(d.g - d.t, 0)
      from (
        select c.t, greatest(c.t, b.paused_until_ms, b.tat_ms + (${n} - ${shape.burst}::float8) * ${interval}) as g
        from (select ${budgetClockMs} as t) as c
      ) as d
    )
    from ${asynchronousCommit}
    where b.name = ${shape.name}${onlyIf ? sql` and ${onlyIf}` : sql``}
    returning last_granted as granted, last_wait_ms as wait_ms`;
}

/**
 * A reconciliation decision: only when the shared bucket has no backlog (live traffic first), and
 * within its own, smaller bucket. Granted now or not at all: it never reserves ahead.
 */
export function reconcileDecisionStatement(shape: BudgetShape, requests: number): SQL {
  const { table } = shape;
  const n = sql`${requests}::float8`;
  const interval = sql`${shape.intervalMs}::float8`;
  const reconcileInterval = sql`${shape.reconcileIntervalMs}::float8`;
  return sql`
    update ${table} as b
    set (tat_ms, reconcile_tat_ms, last_granted, last_wait_ms) = (
      select case when d.g <= d.t then greatest(b.tat_ms, d.t) + ${n} * ${interval} else b.tat_ms end,
             case when d.g <= d.t then greatest(b.reconcile_tat_ms, d.t) + ${n} * ${reconcileInterval} else b.reconcile_tat_ms end,
             d.g <= d.t,
             greatest(d.g - d.t, 0)
      from (
        select c.t, greatest(c.t, b.paused_until_ms, b.tat_ms,
                             b.reconcile_tat_ms + (${n} - ${shape.reconcileBurst}::float8) * ${reconcileInterval}) as g
        from (select ${budgetClockMs} as t) as c
      ) as d
    )
    from ${asynchronousCommit}
    where b.name = ${shape.name}
    returning last_granted as granted, last_wait_ms as wait_ms`;
}

/** First use (or the row was removed): a bucket with its full burst available. */
export function createRowStatement(shape: BudgetShape): SQL {
  return sql`
    insert into ${shape.table} (name, tat_ms, reconcile_tat_ms, paused_until_ms)
    values (${shape.name}, 0, 0, 0) on conflict (name) do nothing`;
}

/** Every kind stops until `pauseMs` from now on the database's clock (a longer pause already set stays). */
export function pauseStatement(shape: BudgetShape, pauseMs: number): SQL {
  return sql`
    insert into ${shape.table} as b (name, tat_ms, reconcile_tat_ms, paused_until_ms)
    values (${shape.name}, 0, 0, ${budgetClockMs} + ${pauseMs}::float8)
    on conflict (name) do update
    set paused_until_ms = greatest(b.paused_until_ms, ${budgetClockMs} + ${pauseMs}::float8)`;
}
