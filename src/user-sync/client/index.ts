/** Public client entry of the user sync plugin. */
export { UserSyncAccountMismatchError, UserSyncProvider, useUserSync } from "./user-sync-provider";
export type { SyncedUserLike, UserSyncLastSync, UserSyncProviderProps, UserSyncResult, UserSyncState, UserSyncStatus } from "./user-sync-provider";
export { useSessionScoped } from "./session-scope";
export type { RetryOptions } from "./retry";
export { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits } from "../shared/profile-input";
export type { ProfileFieldError, ProfileInput } from "../shared/profile-input";
