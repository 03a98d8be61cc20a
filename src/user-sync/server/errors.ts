import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { TRPCError } from "@trpc/server";

import { MalformedClerkUserError } from "./clerk-user";

/** The plugin's fixed error vocabulary. Every failure of a sync is one of these. */
export type UserSyncErrorCode =
  | "CLERK_RATE_LIMITED"
  | "CLERK_UNAVAILABLE"
  | "CLERK_TIMEOUT"
  | "CLERK_MALFORMED"
  | "DATABASE_UNAVAILABLE";

export class UserSyncError extends Error {
  readonly code: UserSyncErrorCode;
  /** Set on CLERK_RATE_LIMITED when Clerk sent `Retry-After`. */
  readonly retryAfterSeconds: number | null;

  constructor(code: UserSyncErrorCode, message: string, options: { cause?: unknown; retryAfterSeconds?: number | null } = {}) {
    super(message, { cause: options.cause });
    this.name = "UserSyncError";
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }
}

/** Classifies a failed Backend API call. A 404 is not an error here: callers check it first. */
export function fromClerkFailure(error: unknown): UserSyncError {
  if (error instanceof UserSyncError) return error;
  if (error instanceof MalformedClerkUserError) {
    return new UserSyncError("CLERK_MALFORMED", "Clerk returned a malformed user", { cause: error });
  }
  if (isClerkAPIResponseError(error)) {
    if (error.status === 429) {
      return new UserSyncError("CLERK_RATE_LIMITED", "Clerk's Backend API is rate limiting this instance", {
        cause: error,
        retryAfterSeconds: error.retryAfter ?? null,
      });
    }
    const status = error.status ? String(error.status) : "network error";
    return new UserSyncError("CLERK_UNAVAILABLE", `Clerk's Backend API failed (${status})`, { cause: error });
  }
  // Anything else thrown by the SDK (a body that is not a user, a parse failure) is Clerk's malformed answer.
  return new UserSyncError("CLERK_MALFORMED", "Clerk returned a malformed response", { cause: error });
}

export function isClerkNotFound(error: unknown): boolean {
  return isClerkAPIResponseError(error) && error.status === 404;
}

const trpcCodes = {
  CLERK_RATE_LIMITED: "TOO_MANY_REQUESTS",
  CLERK_UNAVAILABLE: "BAD_GATEWAY",
  CLERK_TIMEOUT: "GATEWAY_TIMEOUT",
  CLERK_MALFORMED: "BAD_GATEWAY",
  DATABASE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
} as const satisfies Record<UserSyncErrorCode, TRPCError["code"]>;

/** The one place where plugin failures become tRPC errors. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof UserSyncError) {
    return new TRPCError({ code: trpcCodes[error.code], message: error.message, cause: error });
  }
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "User sync failed", cause: error });
}

/**
 * The seconds a client should wait before retrying, for a host's `errorFormatter` (error
 * data) and `responseMeta` (`Retry-After` header). Null when the error carries none.
 */
export function retryAfterSecondsOf(error: unknown): number | null {
  const cause = error instanceof TRPCError ? error.cause : error;
  return cause instanceof UserSyncError ? cause.retryAfterSeconds : null;
}
