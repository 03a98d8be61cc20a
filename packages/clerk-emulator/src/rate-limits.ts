/**
 * Clerk's Backend API limits (docs: "System limits"): per instance, 1000 requests per 10 s on a
 * production instance and 100 on a development one; `PATCH /v1/users/:id` 10 per 10 s per user.
 * Over a limit Clerk answers 429 with `Retry-After` in seconds.
 */
export type RateLimitSettings = {
  enabled: boolean;
  windowMs: number;
  /** Requests per window per instance (every Backend API endpoint). */
  instanceRequests: number;
  /** `PATCH /v1/users/:id` requests per window per user. */
  userUpdateRequests: number;
};

/** Clerk's limits for the instance the secret key belongs to: `sk_live_` production, else development. */
export function defaultRateLimits(secretKey: string): RateLimitSettings {
  return { enabled: true, windowMs: 10_000, instanceRequests: secretKey.startsWith("sk_live_") ? 1000 : 100, userUpdateRequests: 10 };
}

/**
 * `CLERK_EMULATOR_RATE_LIMITS`: `off`, or the requests per 10 s per instance (overriding the
 * key type's default). Unset or empty: Clerk's limits.
 */
export function rateLimitsFromEnv(value: string | undefined): Partial<RateLimitSettings> {
  if (!value) return {};
  if (value === "off") return { enabled: false };
  const requests = Number(value);
  if (!Number.isInteger(requests) || requests < 1) throw new Error(`CLERK_EMULATOR_RATE_LIMITS must be "off" or a positive integer, not "${value}"`);
  return { instanceRequests: requests };
}

export type RateLimitBucket = { key: string; limit: number };

/**
 * Sliding windows: each bucket keeps the times of the requests it let through in the last
 * `windowMs`. A request is refused when any of its buckets is full, and then counts nowhere.
 */
export class RateLimiter {
  settings: RateLimitSettings;
  private readonly windows = new Map<string, number[]>();

  constructor(
    private readonly defaults: RateLimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.settings = { ...defaults };
  }

  configure(patch: Partial<RateLimitSettings>) {
    this.settings = { ...this.settings, ...patch };
    this.windows.clear();
  }

  /** The defaults again, with empty windows. */
  reset() {
    this.settings = { ...this.defaults };
    this.windows.clear();
  }

  /** Null when the request may go ahead (it is counted); otherwise the whole seconds until it could. */
  take(buckets: RateLimitBucket[]): number | null {
    if (!this.settings.enabled) return null;
    const now = this.now();
    let waitMs = 0;
    for (const { key, limit } of buckets) {
      const times = this.prune(key, now);
      if (times.length < limit) continue;
      // The slot frees when the request `limit` places back leaves the window (a limit of 0: a whole window).
      const freesAtMs = (times[times.length - limit] ?? now) + this.settings.windowMs;
      waitMs = Math.max(waitMs, freesAtMs - now);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    for (const { key } of buckets) this.prune(key, now).push(now);
    return null;
  }

  private prune(key: string, now: number) {
    let times = this.windows.get(key);
    if (!times) this.windows.set(key, (times = []));
    const start = now - this.settings.windowMs;
    let expired = 0;
    while (expired < times.length && times[expired]! <= start) expired++;
    if (expired > 0) times.splice(0, expired);
    return times;
  }
}
