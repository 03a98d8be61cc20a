export type RetryOptions = {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
};

export const defaultRetryOptions: RetryOptions = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 30_000 };

type ErrorData = { code?: string; retryAfterSeconds?: number | null };

function errorData(error: unknown): ErrorData | undefined {
  if (typeof error !== "object" || error === null || !("data" in error)) return undefined;
  const data: unknown = error.data;
  return typeof data === "object" && data !== null ? data : undefined;
}

const permanentCodes = new Set(["BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "PARSE_ERROR", "METHOD_NOT_SUPPORTED", "UNPROCESSABLE_CONTENT"]);

/** A failure the same request may not repeat: bad input, forbidden. Network failures and 5xx may. */
export function isRetriable(error: unknown): boolean {
  const code = errorData(error)?.code;
  return code === undefined || !permanentCodes.has(code);
}

export function retryAfterMs(error: unknown): number | null {
  const seconds = errorData(error)?.retryAfterSeconds;
  return typeof seconds === "number" && seconds >= 0 ? seconds * 1000 : null;
}

/** Delay before attempt `attempt + 1` (0-based `attempt` just failed): Retry-After wins, else capped exponential backoff with jitter. */
export function nextDelayMs(error: unknown, attempt: number, options: RetryOptions, random = Math.random): number {
  const serverDelayMs = retryAfterMs(error);
  if (serverDelayMs !== null) return serverDelayMs;
  const exponentialMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  return Math.round(exponentialMs / 2 + (random() * exponentialMs) / 2);
}
