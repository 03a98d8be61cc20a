/**
 * One Clerk Backend API budget for every app instance. Clerk rate-limits per instance
 * (1000 requests / 10 s in production, 100 in development), so live `user.sync` calls and
 * reconciliation draw from one budget held in PostgreSQL; a 429 pauses all of them.
 */
import type { SQL } from "drizzle-orm";

import { UserSyncError } from "../errors";
import { fromDatabaseFailure, rowsOf } from "../database";
import {
  budgetShape,
  createRowStatement,
  liveDecisionStatement,
  pauseStatement,
  reconcileDecisionStatement,
  type PostgresClerkBudgetOptions,
} from "./budget-statements";

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

/** The refusal `withClerkBudget` throws when the budget gave no slot: `CLERK_RATE_LIMITED` with the budget's `Retry-After`. */
export function clerkBudgetRefusal(retryAfterMs: number): UserSyncError {
  const refusal = new UserSyncError("CLERK_RATE_LIMITED", "The Clerk Backend API budget shared by this app's instances is spent for now", {
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
  });
  refusals.add(refusal);
  return refusal;
}

/**
 * Makes a Backend API call the budget granted: when Clerk answers 429, the budget is paused for
 * every instance (Clerk's `Retry-After`, else 1 s) and the error goes on, unless
 * `pauseOnRateLimit` is false.
 */
export async function callWithinGrant<T>(budget: ClerkBudget, call: () => Promise<T>, pauseOnRateLimit = true): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (pauseOnRateLimit && error instanceof UserSyncError && error.code === "CLERK_RATE_LIMITED") {
      await budget.pause(error.retryAfterSeconds ?? 1).catch(() => undefined);
    }
    throw error;
  }
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
      if (!decision.granted) throw clerkBudgetRefusal(decision.retryAfterMs);
      return callWithinGrant(budget, () => method.apply(api, args), options.pauseOnRateLimit !== false);
    };
  }
  return wrapped as TApi;
}

/** Clerk's documented Backend API limit for a secret key: production 1000 / 10 s, development 100. */
export function defaultClerkRequestsPer10s(secretKey: string | undefined): number {
  return secretKey?.startsWith("sk_live_") ? 1000 : 100;
}

export type { PostgresClerkBudgetOptions };


/** The Postgres budget, which can also decide a live call inside another statement (`liveDecision`). */
export type PostgresClerkBudget = ClerkBudget &
  Required<Pick<ClerkBudget, "tryAcquire">> & {
    /**
     * The statement deciding one live call within `maxWaitMs`, for a CTE of a caller's own
     * statement: it returns `granted` and `wait_ms` (a slot reserved ahead, to wait for before
     * calling), or no row when `onlyIf` is false or the row does not exist yet (then ask `tryAcquire`).
     */
    liveDecision(maxWaitMs: number, onlyIf: SQL): SQL;
  };

/** True for a budget made by `createPostgresClerkBudget`. */
export function isPostgresClerkBudget(budget: ClerkBudget | undefined): budget is PostgresClerkBudget {
  return typeof (budget as Partial<PostgresClerkBudget> | undefined)?.liveDecision === "function";
}

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
export function createPostgresClerkBudget(options: PostgresClerkBudgetOptions): PostgresClerkBudget {
  const shape = budgetShape(options);

  async function decide(kind: ClerkCallKind, requests: number, maxWaitMs: number) {
    const db = await options.db();
    const statement = kind === "live" ? liveDecisionStatement(shape, requests, maxWaitMs) : reconcileDecisionStatement(shape, requests);
    let [row] = rowsOf<{ granted: boolean; wait_ms: number }>(await db.execute(statement));
    if (!row) {
      await db.execute(createRowStatement(shape));
      [row] = rowsOf<{ granted: boolean; wait_ms: number }>(await db.execute(statement));
    }
    if (!row) throw new Error("The Clerk budget row could not be created");
    return { granted: Boolean(row.granted), waitMs: Number(row.wait_ms) };
  }

  async function tryAcquire(kind: ClerkCallKind, request: ClerkBudgetRequest = {}): Promise<ClerkBudgetDecision> {
    const requests = request.requests ?? 1;
    const maxBurst = kind === "live" ? shape.burst : shape.reconcileBurst;
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
    liveDecision: (maxWaitMs, onlyIf) => liveDecisionStatement(shape, 1, Math.max(0, maxWaitMs), onlyIf),
    async acquire(kind, request) {
      return (await tryAcquire(kind, request)).granted;
    },
    async pause(retryAfterSeconds) {
      const seconds = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds : 1;
      const db = await options.db();
      await db.execute(pauseStatement(shape, Math.min(seconds * 1000, shape.maxPauseMs)));
    },
  };
}

/** Resolves true after `ms`, false at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
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
