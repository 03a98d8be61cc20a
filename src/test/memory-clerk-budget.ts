import type { ClerkBudget, ClerkCallKind } from "~/user-sync/server/clerk-budget";

/**
 * A one-process `ClerkBudget` for tests (the PostgreSQL one spans app instances): at most
 * `limit` requests per sliding `windowMs`, reconciliation at most `reconcileShare` of them, and
 * `pause()` stops every caller until the `Retry-After` has passed. Records what it granted.
 */
export function createMemoryClerkBudget(options: { limit: number; windowMs?: number; reconcileShare?: number }) {
  const windowMs = options.windowMs ?? 10_000;
  const reconcileLimit = Math.max(1, Math.floor(options.limit * (options.reconcileShare ?? 1)));
  const granted: { atMs: number; kind: ClerkCallKind; requests: number }[] = [];
  const pauses: { atMs: number; untilMs: number }[] = [];
  let pausedUntilMs = 0;

  function used(kind: ClerkCallKind | null, nowMs: number) {
    let total = 0;
    for (let i = granted.length - 1; i >= 0; i--) {
      const grant = granted[i]!;
      if (grant.atMs <= nowMs - windowMs) break;
      if (kind === null || grant.kind === kind) total += grant.requests;
    }
    return total;
  }

  /** Milliseconds until `requests` more may go, 0 when they may go now. */
  function waitMs(kind: ClerkCallKind, requests: number, nowMs: number) {
    if (pausedUntilMs > nowMs) return pausedUntilMs - nowMs;
    const fits = used(null, nowMs) + requests <= options.limit && (kind === "live" || used("reconcile", nowMs) + requests <= reconcileLimit);
    if (fits) return 0;
    const oldest = granted.find((g) => g.atMs > nowMs - windowMs);
    return oldest ? oldest.atMs + windowMs - nowMs + 1 : 1;
  }

  const budget: ClerkBudget = {
    async acquire(kind, acquireOptions = {}) {
      const requests = acquireOptions.requests ?? 1;
      const deadline = Date.now() + (acquireOptions.maxWaitMs ?? 0);
      for (;;) {
        acquireOptions.signal?.throwIfAborted();
        const nowMs = Date.now();
        const wait = waitMs(kind, requests, nowMs);
        if (wait === 0) {
          granted.push({ atMs: nowMs, kind, requests });
          return true;
        }
        if (nowMs + wait > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 50)));
      }
    },
    async pause(retryAfterSeconds) {
      const nowMs = Date.now();
      pausedUntilMs = Math.max(pausedUntilMs, nowMs + retryAfterSeconds * 1000);
      pauses.push({ atMs: nowMs, untilMs: pausedUntilMs });
    },
  };
  return { budget, granted, pauses };
}
