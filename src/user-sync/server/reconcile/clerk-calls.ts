/**
 * The Backend API calls of a reconciliation run, through the plugin's own client (plain
 * `fetch`, `Clerk-API-Version: 2026-05-12`, each request aborted at its timeout). Not
 * `@clerk/backend`'s `getUserList`: it has no `starting_after`, would forward one to
 * `/users/count` too, and sends a count request with every page.
 *
 * - Every request but `GET /v1/jwks` (which Clerk does not rate-limit) first draws from the
 *   shared `ClerkBudget` as `reconcile`; a 429 pauses every caller of every instance for its
 *   `Retry-After`, then the request is sent again.
 * - A 5xx (a page Clerk could not serve in time is a 504 `request_timeout`), a network failure
 *   or a request past its timeout is sent again with backoff (0.5 s, 1 s, 2 s, 4 s: five attempts), from the
 *   same cursor; after that the run stops with its checkpoint.
 * - A rejected key or a malformed answer stops the run at once; a parameter Clerk refuses is
 *   the caller's to handle (`ClerkRefusedError`).
 */
import { setTimeout as sleep } from "node:timers/promises";

import { ClerkRefusedError, createClerkBackendApi, userNotFound, type ClerkBackendApiOptions, type UserListQuery } from "../clerk/backend-api";
import type { ClerkBudget } from "../clerk/budget";
import { UserSyncError } from "../errors";
import { ReconcileClerkError } from "./errors";

const maxRateLimitedRetries = 30;
const maxFailedAttempts = 5;
const defaultRetryAfterSeconds = 10;

export { userNotFound };

export type ReconcileClerkOptions = {
  clerk: ClerkBackendApiOptions;
  budget: ClerkBudget;
  /** Bound on one request (default 30 s): past it the request is aborted and sent again. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called before each wait (budget, backoff): throws to stop the run (its lease was lost). */
  check?: () => void;
};

export function createReconcileClerk(options: ReconcileClerkOptions) {
  const api = createClerkBackendApi(options.clerk, { timeoutMs: options.timeoutMs ?? 30_000 });
  const { budget, signal } = options;
  let requests = 0;
  let waitedMs = 0;

  async function call<T>(work: () => Promise<T>, { budgeted = true, attempts = maxFailedAttempts } = {}): Promise<T> {
    const started = performance.now();
    let rateLimited = 0;
    let failed = 0;
    try {
      for (;;) {
        signal?.throwIfAborted();
        options.check?.();
        if (budgeted) {
          while (!(await budget.acquire("reconcile", { maxWaitMs: 30_000, signal }))) {
            signal?.throwIfAborted();
            options.check?.();
          }
        }
        requests += 1;
        try {
          return await work();
        } catch (error) {
          if (error instanceof ClerkRefusedError || !(error instanceof UserSyncError)) throw error;
          if (error.code === "CLERK_RATE_LIMITED" && ++rateLimited <= maxRateLimitedRetries) {
            await budget.pause(error.retryAfterSeconds ?? defaultRetryAfterSeconds);
            continue;
          }
          const transient = error.code === "CLERK_UNAVAILABLE" || error.code === "CLERK_TIMEOUT" || error.code === "CLERK_RATE_LIMITED";
          if (transient && ++failed < attempts) {
            await sleep(Math.min(8_000, 250 * 2 ** failed), undefined, { signal });
            continue;
          }
          throw new ReconcileClerkError(error.code, error.message.replace(/^Clerk's Backend API /, "").slice(0, 200));
        }
      }
    } finally {
      waitedMs += performance.now() - started;
    }
  }

  return {
    /** Requests sent so far (retries included). */
    get requests() {
      return requests;
    },
    /** Time spent in Clerk calls, waits for the budget and backoff included. */
    get waitedMs() {
      return waitedMs;
    },
    /** The key ids of the Backend API's JWKS (not drawn from the budget: Clerk does not rate-limit it). */
    jwksKeyIds: () => call(() => api.getJwksKeyIds(), { budgeted: false }),
    count: (filters: UserListQuery = {}) => call(() => api.getUserCount(filters)),
    /** One page of `GET /v1/users`. */
    list: (query: UserListQuery) => call(() => api.listUsers(query)),
    /**
     * One user's JSON, or `userNotFound` when Clerk answers 404 `resource_not_found` for that id.
     * Sent once (429s aside): an id Clerk does not answer for is left unconfirmed and asked again by the next run.
     */
    getUser: (userId: string) => call(() => api.getUser(userId), { attempts: 1 }),
  };
}

export type ReconcileClerk = ReturnType<typeof createReconcileClerk>;
