/** Public client entry of the user sync plugin. */
export { UserSyncProvider } from "./provider";
export type { UserSyncProviderProps, UserSyncTRPC } from "./provider";
export { UserSyncAccountMismatchError, useUserSync } from "./user-sync-provider";
export type { SyncedUserLike, UserSyncCallbackProps, UserSyncLastSync, UserSyncResult, UserSyncState, UserSyncStatus } from "./user-sync-provider";
export { useSessionScoped } from "./session-scope";
export type { RetryOptions } from "./retry";
export { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits } from "../shared/profile-input";
export type { ProfileFieldError, ProfileInput } from "../shared/profile-input";
