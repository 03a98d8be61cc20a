/**
 * One Clerk Backend API budget for every app instance. Clerk rate-limits per instance
 * (1000 requests / 10 s in production, 100 in development), so live `user.sync` calls and
 * reconciliation draw from one budget held in PostgreSQL; a 429 pauses all of them.
 */
import { sql } from "drizzle-orm";

import { UserSyncError } from "../errors";
import { asynchronousCommit, fromDatabaseFailure, rowsOf, type UserSyncDatabase } from "../database";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

export type ClerkCallKind = "live" | "reconcile";

export type ClerkBudgetRequest = { requests?: number; maxWaitMs?: number; signal?: AbortSignal };

/** A refusal says how long until asking again can succeed (if nobody else takes it first). */
export type ClerkBudgetDecision = { granted: true } | { granted: false; retryAfterMs: number };

export interface ClerkBudget {
  /**
   * Permission to make `requests` Backend API calls now (default 1). Reconciliation takes at
   * most its configured share of a window and yields to live traffic. Resolves false when no
   * permission came within `maxWaitMs` (default 0: do not wait).
   */
  acquire(kind: ClerkCallKind, options?: ClerkBudgetRequest): Promise<boolean>;
  /** `acquire`, with how long to wait before trying again when refused (a `Retry-After`). Optional: see `tryAcquireClerkBudget`. */
  tryAcquire?(kind: ClerkCallKind, options?: ClerkBudgetRequest): Promise<ClerkBudgetDecision>;
  /** Clerk answered 429: every caller on every instance pauses until `Retry-After` has passed. */
  pause(retryAfterSeconds: number): Promise<void>;
}

/** A budget's decision with a retry hint; budgets without `tryAcquire` give Clerk's window as the hint. */
export async function tryAcquireClerkBudget(budget: ClerkBudget, kind: ClerkCallKind, options?: ClerkBudgetRequest): Promise<ClerkBudgetDecision> {
  if (budget.tryAcquire) return budget.tryAcquire(kind, options);
  return (await budget.acquire(kind, options)) ? { granted: true } : { granted: false, retryAfterMs: 10_000 };
}

const refusals = new WeakSet<UserSyncError>();

/** True for the `CLERK_RATE_LIMITED` error `withClerkBudget` throws when the budget refused: Clerk was not called. */
export function isClerkBudgetRefusal(error: unknown): boolean {
  return error instanceof UserSyncError && refusals.has(error);
}

/**
 * The same Backend API client, with every call drawing from `budget` first: refused (no slot
 * within `maxWaitMs`) → `CLERK_RATE_LIMITED` with the budget's `Retry-After` and no request;
 * Clerk answered 429 → the budget is paused for every instance (Clerk's `Retry-After`, else 1 s)
 * and the error goes on, unless `pauseOnRateLimit` is false: a 429 that may be a limit of one
 * user's own (Clerk's `PATCH /v1/users/{id}`: 10 per 10 s per user) must not stop everyone's
 * syncs; an instance-wide limit still pauses the budget at the next read that meets it.
 * No budget: the client unchanged.
 */
export function withClerkBudget<TApi extends object>(
  api: TApi,
  budget: ClerkBudget | undefined,
  options: { kind?: ClerkCallKind; maxWaitMs?: number; pauseOnRateLimit?: boolean } = {},
): TApi {
  if (!budget) return api;
  const kind = options.kind ?? "live";
  const wrapped: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(api)) {
    if (typeof member !== "function") {
      wrapped[name] = member;
      continue;
    }
    const method = member as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = async (...args: unknown[]) => {
      let decision: ClerkBudgetDecision;
      try {
        decision = await tryAcquireClerkBudget(budget, kind, { maxWaitMs: options.maxWaitMs });
      } catch (error) {
        throw fromDatabaseFailure(error);
      }
      if (!decision.granted) {
        const refusal = new UserSyncError("CLERK_RATE_LIMITED", "The Clerk Backend API budget shared by this app's instances is spent for now", {
          retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
        });
        refusals.add(refusal);
        throw refusal;
      }
      try {
        return await method.apply(api, args);
      } catch (error) {
        if (error instanceof UserSyncError && error.code === "CLERK_RATE_LIMITED" && options.pauseOnRateLimit !== false) {
          await budget.pause(error.retryAfterSeconds ?? 1).catch(() => undefined);
        }
        throw error;
      }
    };
  }
  return wrapped as TApi;
}

/** Clerk's documented Backend API limit for a secret key: production 1000 / 10 s, development 100. */
export function defaultClerkRequestsPer10s(secretKey: string | undefined): number {
  return secretKey?.startsWith("sk_live_") ? 1000 : 100;
}

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

/**
 * The budget in one PostgreSQL row, shared by every app instance: a GCRA (a token bucket kept
 * as one "theoretical arrival time") on the database's clock, decided by one atomic UPDATE.
 *
 * Guarantee: with limit L, burst B and sustained rate R = L − B − 1 per window, no window of
 * `windowMs` anywhere in time (closed at both ends) holds more than R + B = L − 1 grants on the
 * database's clock, whatever the number of instances; the one request of slack absorbs the
 * delay between a grant and its request reaching Clerk.
 * Live callers may wait for a slot (`maxWaitMs`): the slot is reserved in the same statement,
 * so waiters are served in order across instances without polling. Reconciliation never
 * reserves: it is granted only while the shared bucket is drained (no live backlog) and
 * within its own bucket of `reconcileShare` × the limit, so it only uses what live traffic left.
 * A pause (`Retry-After`) stops every kind until it has passed.
 */
export function createPostgresClerkBudget(options: PostgresClerkBudgetOptions): ClerkBudget & Required<Pick<ClerkBudget, "tryAcquire">> {
  const limit = Math.floor(options.requestsPerWindow);
  if (!Number.isFinite(limit) || limit < 1) throw new RangeError("requestsPerWindow must be at least 1");
  const windowMs = options.windowMs ?? 10_000;
  if (!(windowMs > 0)) throw new RangeError("windowMs must be positive");
  const share = options.reconcileShare ?? 0.5;
  if (!(share > 0 && share <= 1)) throw new RangeError("reconcileShare must be in (0, 1]");
  const burst = Math.max(1, Math.min(limit - 2, Math.floor(options.burst ?? limit / 10)));
  const sustained = Math.max(1, limit - burst - 1);
  const intervalMs = windowMs / sustained;
  const reconcileSustained = Math.max(1, Math.floor(share * sustained));
  const reconcileBurst = Math.max(1, Math.floor(share * burst));
  const reconcileIntervalMs = windowMs / reconcileSustained;
  const name = options.name ?? "clerk";
  const maxPauseMs = (options.maxPauseSeconds ?? 600) * 1000;
  const table = options.table ?? defaultUserSyncTables.userSyncClerkBudget;

  // The database's clock, read after the row lock is held (a value computed before a lock wait would be stale).
  const clockMs = sql`(extract(epoch from clock_timestamp()) * 1000)::float8`;

  // Every decision updates the one row, so each waits for the previous one's commit: with a
  // durable commit that is a WAL flush per Clerk call, in series across all instances. The
  // budget's state is worth less than that: a database crash may forget the last few hundred ms
  // of grants (wal_writer_delay), letting at most that many extra calls through once.

  function decisionStatement(kind: ClerkCallKind, requests: number, maxWaitMs: number) {
    const n = sql`${requests}::float8`;
    const interval = sql`${intervalMs}::float8`;
    if (kind === "live") {
      // Earliest start g: after any pause, and when the backlog after this take fits the burst.
      return sql`
        update ${table} as b
        set (tat_ms, last_granted, last_wait_ms) = (
          select case when d.g - d.t <= ${maxWaitMs}::float8 then greatest(b.tat_ms, d.g) + ${n} * ${interval} else b.tat_ms end,
                 d.g - d.t <= ${maxWaitMs}::float8,
                 greatest(d.g - d.t, 0)
          from (
            select c.t, greatest(c.t, b.paused_until_ms, b.tat_ms + (${n} - ${burst}::float8) * ${interval}) as g
            from (select ${clockMs} as t) as c
          ) as d
        )
        from ${asynchronousCommit}
        where b.name = ${name}
        returning last_granted as granted, last_wait_ms as wait_ms`;
    }
    const reconcileInterval = sql`${reconcileIntervalMs}::float8`;
    // Reconciliation: only when the shared bucket has no backlog (live traffic first), and
    // within its own, smaller bucket. Granted now or not at all: it never reserves ahead.
    return sql`
      update ${table} as b
      set (tat_ms, reconcile_tat_ms, last_granted, last_wait_ms) = (
        select case when d.g <= d.t then greatest(b.tat_ms, d.t) + ${n} * ${interval} else b.tat_ms end,
               case when d.g <= d.t then greatest(b.reconcile_tat_ms, d.t) + ${n} * ${reconcileInterval} else b.reconcile_tat_ms end,
               d.g <= d.t,
               greatest(d.g - d.t, 0)
        from (
          select c.t, greatest(c.t, b.paused_until_ms, b.tat_ms,
                               b.reconcile_tat_ms + (${n} - ${reconcileBurst}::float8) * ${reconcileInterval}) as g
          from (select ${clockMs} as t) as c
        ) as d
      )
      from ${asynchronousCommit}
      where b.name = ${name}
      returning last_granted as granted, last_wait_ms as wait_ms`;
  }

  async function decide(kind: ClerkCallKind, requests: number, maxWaitMs: number) {
    const db = await options.db();
    const statement = decisionStatement(kind, requests, maxWaitMs);
    let [row] = rowsOf<{ granted: boolean; wait_ms: number }>(await db.execute(statement));
    if (!row) {
      // First use (or the row was removed): a bucket with its full burst available.
      await db.execute(sql`
        insert into ${table} (name, tat_ms, reconcile_tat_ms, paused_until_ms)
        values (${name}, 0, 0, 0) on conflict (name) do nothing`);
      [row] = rowsOf<{ granted: boolean; wait_ms: number }>(await db.execute(statement));
    }
    if (!row) throw new Error("The Clerk budget row could not be created");
    return { granted: Boolean(row.granted), waitMs: Number(row.wait_ms) };
  }

  async function tryAcquire(kind: ClerkCallKind, request: ClerkBudgetRequest = {}): Promise<ClerkBudgetDecision> {
    const requests = request.requests ?? 1;
    const maxBurst = kind === "live" ? burst : reconcileBurst;
    if (!Number.isInteger(requests) || requests < 1 || requests > maxBurst) {
      throw new RangeError(`requests must be an integer from 1 to ${maxBurst} for ${kind} calls`);
    }
    const maxWaitMs = Math.max(0, request.maxWaitMs ?? 0);
    const startedAtMs = Date.now();
    for (;;) {
      if (request.signal?.aborted) return { granted: false, retryAfterMs: 0 };
      const elapsedMs = Date.now() - startedAtMs;
      const { granted, waitMs } = await decide(kind, requests, kind === "live" ? maxWaitMs - elapsedMs : 0);
      if (granted) {
        // A live grant may be a reserved slot a little ahead: wait for it before calling Clerk.
        if (waitMs > 0 && !(await sleep(waitMs, request.signal))) return { granted: false, retryAfterMs: 0 };
        return { granted: true };
      }
      // Live callers were refused only because the slot lies beyond their wait: no point polling.
      const remainingMs = maxWaitMs - (Date.now() - startedAtMs);
      if (kind === "live" || waitMs > remainingMs) return { granted: false, retryAfterMs: Math.ceil(waitMs) };
      if (!(await sleep(Math.max(1, waitMs), request.signal))) return { granted: false, retryAfterMs: 0 };
    }
  }

  return {
    tryAcquire,
    async acquire(kind, request) {
      return (await tryAcquire(kind, request)).granted;
    },
    async pause(retryAfterSeconds) {
      const seconds = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds : 1;
      const pauseMs = Math.min(seconds * 1000, maxPauseMs);
      const db = await options.db();
      await db.execute(sql`
        insert into ${table} as b (name, tat_ms, reconcile_tat_ms, paused_until_ms)
        values (${name}, 0, 0, ${clockMs} + ${pauseMs}::float8)
        on conflict (name) do update
        set paused_until_ms = greatest(b.paused_until_ms, ${clockMs} + ${pauseMs}::float8)`);
    },
  };
}

/** Resolves true after `ms`, false at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      resolve(false);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
