import "server-only";

import { createUserSyncRouter } from "./router";
import { createUserSyncService, type UsersTable, type UserSyncOptions } from "./sync";

/**
 * Public server entry of the user sync plugin. The host passes in what it owns (database,
 * users table, Clerk client) and mounts `router` as `user` in its tRPC app router.
 *
 * @example
 * export const userSync = createUserSync({ db: getDb, users, clerk: clerkClient });
 * export const appRouter = createTRPCRouter({ user: userSync.router });
 */
export function createUserSync<TUsers extends UsersTable>(options: UserSyncOptions<TUsers>) {
  const service = createUserSyncService(options);
  return { service, router: createUserSyncRouter(service) };
}

export type { UserSyncContext } from "./router";
export type { ClerkBackendClient, SyncResult, UserSyncEvent, UserSyncOptions, UserSyncSource } from "./sync";
export type { WriteOutcome } from "./write-path";
export { retryAfterSecondsOf, UserSyncError, type UserSyncErrorCode } from "./errors";
