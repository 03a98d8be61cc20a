/**
 * Whether a Clerk user may use the app's admin features, at almost no cost to Clerk: the role is
 * read from the Backend API (session tokens carry no metadata by default) at most once per user
 * per `cacheSeconds` across every app instance (`user_sync_clerk_cache`), through the shared
 * Clerk budget; concurrent checks of one user share that one read. So a user calling admin
 * procedures in a loop costs Clerk one call per period, and a revoked role stops working within
 * the period. A user Clerk no longer knows is not an admin.
 */
import { userNotFound, type ClerkBackendApi } from "../clerk/backend-api";
import type { ClerkReadCache } from "../clerk/cache";
import { UserSyncError } from "../errors";

/** What an admin predicate sees of a Clerk user: its metadata, as Clerk's Backend API serves it. */
export type ClerkRoleSubject = { id: string; publicMetadata: Record<string, unknown>; privateMetadata: Record<string, unknown> };

export type AdminRoleOptions = {
  /**
   * Whether this Clerk user is an admin.
   * @default (user) => user.publicMetadata.role === "admin"
   */
  isAdmin?: (user: ClerkRoleSubject) => boolean;
  /**
   * How long a user's role, once read from Clerk, is reused by every instance: the longest a
   * granted or revoked role takes to apply.
   * @default 60
   */
  cacheSeconds?: number;
};

export const defaultAdminRoleCacheSeconds = 60;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

export function createAdminRoleCheck(options: AdminRoleOptions & { cache: ClerkReadCache; clerkApi: Pick<ClerkBackendApi, "getUser">; claimMs: number }) {
  const isAdmin = options.isAdmin ?? ((user: ClerkRoleSubject) => user.publicMetadata.role === "admin");
  const cacheSeconds = options.cacheSeconds ?? defaultAdminRoleCacheSeconds;
  if (!(cacheSeconds >= 0)) throw new RangeError("adminRole.cacheSeconds must be 0 or more");

  async function readRole(userId: string): Promise<{ admin: boolean }> {
    const json = await options.clerkApi.getUser(userId);
    if (json === userNotFound) return { admin: false };
    const user = isRecord(json) ? json : null;
    if (user?.id !== userId) throw new UserSyncError("CLERK_MALFORMED", "Clerk returned no user, or another user, for a role check");
    const subject: ClerkRoleSubject = {
      id: userId,
      publicMetadata: isRecord(user.public_metadata) ? user.public_metadata : {},
      privateMetadata: isRecord(user.private_metadata) ? user.private_metadata : {},
    };
    return { admin: isAdmin(subject) === true };
  }

  /** Resolves whether `userId` is an admin; rejects with a `UserSyncError` when Clerk could not be asked. */
  return async function isAdminUser(userId: string): Promise<boolean> {
    const entry = await options.cache.read(`admin:${userId}`, { periodMs: cacheSeconds * 1000, claimMs: options.claimMs }, () => readRole(userId));
    return isRecord(entry.value) && entry.value.admin === true;
  };
}
