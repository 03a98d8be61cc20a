import { UserSyncError } from "../errors";

/** The `kid` of a session token's header (the token was verified by clerkMiddleware). */
export function sessionKeyIdOf(sessionToken: string | null): string | null {
  const header = sessionToken?.split(".")[0];
  if (!header) return null;
  try {
    const kid = (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { kid?: unknown }).kid;
    return typeof kid === "string" && kid.length > 0 ? kid : null;
  } catch {
    return null;
  }
}

/**
 * Proves, with an answer fetched for this very decision, that the Backend API
 * (`CLERK_SECRET_KEY`, `CLERK_API_URL`) belongs to the Clerk instance that signed a session: the
 * session's signing key id must be among the keys `GET /v1/jwks` serves now. A secret key of
 * another instance answers `resource_not_found` for every user of this one, so nothing may be
 * tombstoned on a 404 before this passes. Nothing is cached: a proxy re-routed or a key swapped
 * without a restart is caught at the next decision (Clerk does not rate-limit `GET /v1/jwks`).
 *
 * Resolves when proven; rejects with `CLERK_INSTANCE_MISMATCH`, or with the JWKS call's own
 * failure (`CLERK_KEY_REJECTED`, `CLERK_UNAVAILABLE`, …).
 */
export async function proveInstance(jwksKeyIds: () => Promise<string[]>, sessionKeyId: string | null): Promise<void> {
  if (!sessionKeyId) {
    throw new UserSyncError(
      "CLERK_INSTANCE_MISMATCH",
      "The session token names no signing key, so the Backend API's Clerk instance cannot be confirmed",
    );
  }
  const keyIds = await jwksKeyIds();
  if (!keyIds.includes(sessionKeyId)) {
    throw new UserSyncError(
      "CLERK_INSTANCE_MISMATCH",
      "CLERK_SECRET_KEY (or CLERK_API_URL) belongs to another Clerk instance than the one that signed the session: its JWKS lack the session's signing key",
    );
  }
}
