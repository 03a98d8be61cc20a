import type { ClerkBudget } from "~/user-sync/server/clerk-budget";
import type { UserSyncDatabase } from "~/user-sync/server/write-path";

/**
 * The CLI's Clerk budget. Interim: a limiter in this process only (Clerk's documented limit for
 * the key's instance type, half of it for reconciliation) until the PostgreSQL budget shared
 * by every app instance is merged; then this returns `createPostgresClerkBudget`.
 */
export function createCliClerkBudget(_db: UserSyncDatabase): ClerkBudget {
  const limit = Number(process.env.USER_SYNC_CLERK_REQUESTS_PER_10S) || (process.env.CLERK_SECRET_KEY?.startsWith("sk_live_") ? 1000 : 100);
  const reconcileLimit = Math.max(1, Math.floor(limit * (Number(process.env.USER_SYNC_RECONCILE_BUDGET_SHARE) || 0.5)));
  const granted: number[] = [];
  let pausedUntilMs = 0;
  return {
    async acquire(_kind, options = {}) {
      const requests = options.requests ?? 1;
      const deadline = Date.now() + (options.maxWaitMs ?? 0);
      for (;;) {
        const now = Date.now();
        while (granted.length && granted[0]! <= now - 10_000) granted.shift();
        if (pausedUntilMs <= now && granted.length + requests <= reconcileLimit) {
          for (let i = 0; i < requests; i++) granted.push(now);
          return true;
        }
        const wait = Math.max(pausedUntilMs - now, granted.length ? granted[0]! + 10_000 - now : 0, 1);
        if (now + wait > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    },
    async pause(retryAfterSeconds) {
      pausedUntilMs = Math.max(pausedUntilMs, Date.now() + retryAfterSeconds * 1000);
    },
  };
}
