/**
 * One Clerk Backend API budget for every app instance. Clerk rate-limits per instance
 * (1000 requests / 10 s in production, 100 in development), so live `user.sync` calls and
 * reconciliation draw from one budget held in PostgreSQL; a 429 pauses all of them.
 */
export type ClerkCallKind = "live" | "reconcile";

export interface ClerkBudget {
  /**
   * Permission to make `requests` Backend API calls now (default 1). Reconciliation takes at
   * most its configured share of a window and yields to live traffic. Resolves false when no
   * permission came within `maxWaitMs` (default 0: do not wait).
   */
  acquire(kind: ClerkCallKind, options?: { requests?: number; maxWaitMs?: number; signal?: AbortSignal }): Promise<boolean>;
  /** Clerk answered 429: every caller on every instance pauses until `Retry-After` has passed. */
  pause(retryAfterSeconds: number): Promise<void>;
}
