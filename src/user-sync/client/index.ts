/** Public client entry of the user sync plugin. */
export { UserSyncProvider } from "./user-sync-provider";
export type { UserSyncProviderProps, UserSyncTRPC } from "./user-sync-provider";
export { UserSyncAccountMismatchError } from "./user-sync-callback-provider";
export type { UserSyncCallbackProps } from "./user-sync-callback-provider";
export { useUserSync } from "./use-user-sync";
export type { SyncedUserLike, UserSyncLastSync, UserSyncResult, UserSyncState, UserSyncStatus } from "./use-user-sync";
export { useSessionScoped } from "./session-scope";
export type { RetryOptions } from "./retry";
export { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits } from "../shared/profile-input";
export type { ProfileFieldError, ProfileInput } from "../shared/profile-input";
