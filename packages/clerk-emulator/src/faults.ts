/**
 * Failure switches for the Backend API, global (`"*"`) or per endpoint name (`getUser`,
 * `getUserList`, `updateUser`, …). A per-endpoint fault replaces the global one.
 */
export type BapiFault = {
  /** Added before the answer (or before the failure). */
  latencyMs?: number;
  /** Answer with this status: a 5xx, or 409 (the Conflict Clerk's spec lists for `PATCH /v1/users/{id}`). */
  status?: number;
  /** Answer 429 with `Retry-After: <seconds>`. */
  rateLimitRetryAfterSeconds?: number;
  /** Never answer (until the fault is cleared or the emulator reset, then 503). */
  hang?: boolean;
  /** Answer an HTML 404 page, as a wrong `CLERK_API_URL` path or a proxy in front of the API does. */
  htmlNotFound?: boolean;
  /** Apply this many more times, then clear itself. Unset: until cleared. */
  remaining?: number;
};

export const bapiEndpoints = [
  "getUser",
  "getUserList",
  "getCount",
  "createUser",
  "updateUser",
  "updateUserMetadata",
  "replaceUserMetadata",
  "deleteUser",
  "updateUserProfileImage",
  "banUser",
  "unbanUser",
  "lockUser",
  "unlockUser",
  "replaceUserEmailAddress",
  "getEmailAddress",
  "createEmailAddress",
  "updateEmailAddress",
  "deleteEmailAddress",
  "getJwks",
  "getInstance",
] as const;

export type BapiEndpoint = (typeof bapiEndpoints)[number];

export class BapiFaults {
  private faults = new Map<string, BapiFault>();
  private readonly hung = new Set<() => void>();

  list(): Record<string, BapiFault> {
    return Object.fromEntries(this.faults);
  }

  set(endpoint: string, fault: BapiFault) {
    this.faults.set(endpoint, fault);
  }

  clear(endpoint?: string) {
    if (endpoint) this.faults.delete(endpoint);
    else this.faults.clear();
    for (const release of this.hung) release();
    this.hung.clear();
  }

  /** The fault for one call, counted against `remaining`. */
  take(endpoint: string): BapiFault | null {
    const key = this.faults.has(endpoint) ? endpoint : this.faults.has("*") ? "*" : null;
    if (key === null) return null;
    const fault = this.faults.get(key)!;
    if (fault.remaining !== undefined) {
      if (fault.remaining <= 1) this.faults.delete(key);
      else this.faults.set(key, { ...fault, remaining: fault.remaining - 1 });
    }
    return fault;
  }

  /** Resolves when the hang is released (the fault cleared, or a reset). */
  hang(): Promise<void> {
    return new Promise((resolve) => this.hung.add(resolve));
  }
}

/** Calls per endpoint (BAPI names, `fapi:<route>` for Frontend API calls), since the last reset. */
export class CallCounters {
  private counts = new Map<string, number>();

  increment(name: string) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  get(name: string) {
    return this.counts.get(name) ?? 0;
  }

  all(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  reset() {
    this.counts.clear();
  }
}
