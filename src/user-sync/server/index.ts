import "server-only";

import { createProfileService, type ClerkProfileClient } from "./profile";
import { withProfileProcedures } from "./profile-router";
import { createUserSyncRouter } from "./router";
import { createUserSyncService, type ClerkBackendClient, type UsersTable, type UserSyncOptions } from "./sync";
import { createClerkWebhookHandler, type ClerkWebhookOptions } from "./webhook";

/** Clerk webhook settings; the handler shares the sync's database, users table and telemetry. */
export type UserSyncWebhookOptions = Pick<
  ClerkWebhookOptions,
  "signingSecret" | "instanceId" | "maxBodyBytes" | "retentionDays" | "pruneIntervalMs" | "log"
>;

/**
 * Public server entry of the user sync plugin. The host passes in what it owns (database,
 * users table, Clerk client, webhook secret), mounts `router` as `user` in its tRPC app router
 * (`user.sync`, `user.me`, `user.updateProfile`, `user.updateAvatar`) and serves
 * `webhook.handle` at its public Clerk webhook route (outside `clerkMiddleware`'s matcher).
 * `webhook.pruneInbox()` and `webhook.clearDeadLetters()` are for a cron and operators.
 *
 * @example
 * export const userSync = createUserSync({ db: getDb, users, clerk: clerkClient, webhook: { signingSecret } });
 * export const appRouter = createTRPCRouter({ user: userSync.router });
 * // src/app/api/webhooks/clerk/route.ts
 * export const POST = (request: Request) => userSync.webhook.handle(request);
 */
export function createUserSync<TUsers extends UsersTable>(
  options: UserSyncOptions<TUsers> & {
    /** Clerk's Backend API client: reads for the sync, writes for profile edits. */
    clerk: () => Promise<ClerkBackendClient & ClerkProfileClient>;
    webhook?: UserSyncWebhookOptions;
  },
) {
  const service = createUserSyncService(options);
  const profile = createProfileService(options);
  const webhook = createClerkWebhookHandler({
    db: options.db,
    users: options.users,
    onEvent: options.onEvent,
    signingSecret: undefined,
    ...options.webhook,
  });
  return { service, profile, router: withProfileProcedures(createUserSyncRouter(service), profile), webhook };
}

export { createClerkWebhookHandler };
export type {
  ClerkWebhookCounts,
  ClerkWebhookDeliveryLogEntry,
  ClerkWebhookHandler,
  ClerkWebhookInboxLogEntry,
  ClerkWebhookLogEntry,
  ClerkWebhookOptions,
  DeliveryOutcome,
} from "./webhook";
export type { DeadLetterSelection, InboxPruneOptions, InboxPruneResult } from "./webhook-inbox";
export type { UserSyncContext } from "./router";
export type { ClerkBackendClient, SyncResult, UserSyncEvent, UserSyncOptions, UserSyncSource } from "./sync";
export type { WriteOutcome } from "./write-path";
export type { ClerkProfile, ClerkProfileClient, ProfileErrorCode, ProfileUpdateResult } from "./profile";
export { ProfileUpdateError } from "./profile";
export { fieldErrorsOf, type ProfileContext } from "./profile-router";
export { profileInputSchema, profileLimits, type ProfileFieldError, type ProfileInput } from "../shared/profile-input";
export { retryAfterSecondsOf, UserSyncError, type UserSyncErrorCode } from "./errors";
