import type { ClerkBackendApi } from "./clerk-backend-api";
import { UserSyncError } from "./errors";

/** Keys rotate rarely; a session key id we have not seen refetches once this long after the last fetch. */
const keysTtlMs = 60 * 60 * 1000;
const refetchOnMissAfterMs = 60 * 1000;

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
 * Proves that the Backend API (`CLERK_SECRET_KEY`, `CLERK_API_URL`) belongs to the Clerk instance
 * that signed the caller's session: the session token's `kid` must be among the keys of the
 * API's `GET /v1/jwks`. A secret key of another instance answers `resource_not_found` for every
 * user of this one, so nothing may be tombstoned on a 404 before this check passes.
 * The key ids are cached per process.
 */
export function createInstanceCheck(api: ClerkBackendApi, now: () => number = Date.now) {
  let cached: { keyIds: Set<string>; fetchedAtMs: number } | null = null;
  let loading: Promise<Set<string>> | null = null;

  function load(): Promise<Set<string>> {
    loading ??= api
      .getJwksKeyIds()
      .then((ids) => {
        cached = { keyIds: new Set(ids), fetchedAtMs: now() };
        return cached.keyIds;
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  return {
    /** Resolves when the session's key belongs to the Backend API's instance; throws otherwise. */
    async confirm(sessionToken: string | null): Promise<void> {
      const keyId = sessionKeyIdOf(sessionToken);
      if (!keyId) {
        throw new UserSyncError(
          "CLERK_INSTANCE_MISMATCH",
          "The session token names no signing key, so the Backend API's Clerk instance cannot be confirmed",
        );
      }
      let keyIds = cached && now() - cached.fetchedAtMs < keysTtlMs ? cached.keyIds : await load();
      if (!keyIds.has(keyId) && cached && now() - cached.fetchedAtMs >= refetchOnMissAfterMs) keyIds = await load();
      if (!keyIds.has(keyId)) {
        throw new UserSyncError(
          "CLERK_INSTANCE_MISMATCH",
          "CLERK_SECRET_KEY (or CLERK_API_URL) belongs to another Clerk instance than the one that signed the session: its JWKS lack the session's signing key",
        );
      }
    },
  };
}
