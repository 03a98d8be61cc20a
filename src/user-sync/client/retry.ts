export type RetryOptions = {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
};

export const defaultRetryOptions: RetryOptions = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 30_000 };

/**
 * tRPC's codes of a failure the same request may not repeat: BAD_REQUEST, FORBIDDEN, NOT_FOUND,
 * PARSE_ERROR, METHOD_NOT_SUPPORTED, UNPROCESSABLE_CONTENT (network failures, 5xx, 429 may), by
 * the shortest prefixes that tell them apart from tRPC's other codes (retry.test.ts checks every
 * code): the browser downloads this list.
 */
export const permanentCodes = /^(BAD_R|F|NOT_F|PAR|M|UNP)/;

/**
 * Delay before attempt `attempt + 1` (0-based `attempt` just failed), or null when there is none:
 * a permanent failure, or the last attempt. Retry-After wins, else capped exponential backoff with jitter.
 */
export function retryDelayMs(error: unknown, attempt: number, options: RetryOptions, random = Math.random): number | null {
  // tRPC's error `data` (`code`, and `retryAfterSeconds` from the plugin's error formatter), if any.
  const { code, retryAfterSeconds } = Object((Object(error) as { data?: unknown }).data) as { code?: unknown; retryAfterSeconds?: unknown };
  if (permanentCodes.test(String(code)) || attempt + 1 >= options.maxAttempts) return null;
  if (typeof retryAfterSeconds === "number" && retryAfterSeconds >= 0) return retryAfterSeconds * 1000;
  const exponentialMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.round(exponentialMs / 2 + (random() * exponentialMs) / 2);
}
