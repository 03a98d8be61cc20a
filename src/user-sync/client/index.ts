/** Public client entry of the user sync plugin. */
export { UserSyncProvider, useUserSync } from "./user-sync-provider";
export type { UserSyncProviderProps, UserSyncResult, UserSyncState, UserSyncStatus } from "./user-sync-provider";
export type { RetryOptions } from "./retry";
export { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits } from "../shared/profile-input";
export type { ProfileFieldError, ProfileInput } from "../shared/profile-input";
