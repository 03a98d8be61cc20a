import { TRPCError } from "@trpc/server";

/** The plugin's fixed error vocabulary. Every failure of a sync is one of these. */
export type UserSyncErrorCode =
  /** Clerk's Backend API answered 429 (its `Retry-After` is kept). */
  | "CLERK_RATE_LIMITED"
  /** A 5xx, a network failure, or an answer that is not Clerk's (e.g. an HTML 404 from a proxy). */
  | "CLERK_UNAVAILABLE"
  /** No answer within the timeout; the request was aborted. */
  | "CLERK_TIMEOUT"
  /** A 2xx whose body is not what Clerk sends. */
  | "CLERK_MALFORMED"
  /** No Clerk secret key: `CLERK_SECRET_KEY` is unset and none was passed to `createUserSync`. */
  | "CLERK_NOT_CONFIGURED"
  /** The Backend API answered 401/403: `CLERK_SECRET_KEY` is wrong or revoked. */
  | "CLERK_KEY_REJECTED"
  /** The Backend API belongs to another Clerk instance than the one that signed the session. */
  | "CLERK_INSTANCE_MISMATCH"
  /** The database could not be reached or gave up (connection, timeout, deadlock…): retry. */
  | "DATABASE_UNAVAILABLE"
  /** The database refused the statement (a constraint, a host trigger, bad data): retrying will not help. */
  | "DATABASE_REJECTED";

/**
 * A sync failure. Its message names what failed and, for configuration problems, which setting,
 * never a secret or user data. It carries no underlying error: driver errors quote query
 * parameters (emails, names) in their messages.
 */
export class UserSyncError extends Error {
  readonly code: UserSyncErrorCode;
  /** Set on CLERK_RATE_LIMITED when Clerk sent `Retry-After`. */
  readonly retryAfterSeconds: number | null;

  constructor(code: UserSyncErrorCode, message: string, options: { retryAfterSeconds?: number | null } = {}) {
    super(message);
    this.name = "UserSyncError";
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }
}

const trpcCodes = {
  CLERK_RATE_LIMITED: "TOO_MANY_REQUESTS",
  CLERK_UNAVAILABLE: "BAD_GATEWAY",
  CLERK_TIMEOUT: "GATEWAY_TIMEOUT",
  CLERK_MALFORMED: "BAD_GATEWAY",
  CLERK_NOT_CONFIGURED: "INTERNAL_SERVER_ERROR",
  CLERK_KEY_REJECTED: "INTERNAL_SERVER_ERROR",
  CLERK_INSTANCE_MISMATCH: "INTERNAL_SERVER_ERROR",
  DATABASE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  DATABASE_REJECTED: "INTERNAL_SERVER_ERROR",
} as const satisfies Record<UserSyncErrorCode, TRPCError["code"]>;

/**
 * The one place where plugin failures become tRPC errors. Anything that is not a
 * `UserSyncError` becomes a bare INTERNAL_SERVER_ERROR without its cause: an unexpected error
 * may still quote user data.
 */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof UserSyncError) {
    return new TRPCError({ code: trpcCodes[error.code], message: error.message, cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "User sync failed" });
}

function userSyncErrorOf(error: unknown): UserSyncError | null {
  const cause = error instanceof TRPCError ? error.cause : error;
  return cause instanceof UserSyncError ? cause : null;
}

/**
 * The seconds a client should wait before retrying, for a host's `errorFormatter` (error
 * data) and `responseMeta` (`Retry-After` header). Null when the error carries none.
 */
export function retryAfterSecondsOf(error: unknown): number | null {
  return userSyncErrorOf(error)?.retryAfterSeconds ?? null;
}

/** The plugin's error code (`DATABASE_REJECTED`, …) for a host's `errorFormatter`, or null. */
export function userSyncErrorCodeOf(error: unknown): UserSyncErrorCode | null {
  return userSyncErrorOf(error)?.code ?? null;
}
