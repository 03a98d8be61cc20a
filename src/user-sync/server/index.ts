import "server-only";

import { createUserSyncRouter } from "./router";
import { createUserSyncService, type UsersTable, type UserSyncOptions } from "./sync";
import { createClerkWebhookHandler, type ClerkWebhookOptions } from "./webhook";

/** Clerk webhook settings; the handler shares the sync's database, users table and telemetry. */
export type UserSyncWebhookOptions = Pick<
  ClerkWebhookOptions,
  "signingSecret" | "instanceId" | "maxBodyBytes" | "retentionDays" | "pruneIntervalMs" | "log"
>;

/**
 * Public server entry of the user sync plugin. The host passes in what it owns (database,
 * users table object, Clerk Backend API key, webhook secret), mounts `router` as `user` in its
 * tRPC app router and serves `webhook.handle` at its public Clerk webhook route (outside
 * `clerkMiddleware`'s matcher). `service` also exposes `configProblems()` and `counts()` for a
 * health view; `webhook.pruneInbox()` and `webhook.clearDeadLetters()` are for a cron and operators.
 *
 * @example
 * export const userSync = createUserSync({
 *   db: getDb,
 *   users,
 *   clerk: { secretKey: env.CLERK_SECRET_KEY, apiUrl: env.CLERK_API_URL },
 *   webhook: { signingSecret: env.CLERK_WEBHOOK_SIGNING_SECRET },
 * });
 * export const appRouter = createTRPCRouter({ user: userSync.router });
 * // src/app/api/webhooks/clerk/route.ts
 * export const POST = (request: Request) => userSync.webhook.handle(request);
 */
export function createUserSync<TUsers extends UsersTable>(
  options: UserSyncOptions<TUsers> & { webhook?: UserSyncWebhookOptions },
) {
  const service = createUserSyncService(options);
  const webhook = createClerkWebhookHandler({
    db: options.db,
    users: options.users,
    onEvent: options.onEvent,
    signingSecret: undefined,
    ...options.webhook,
  });
  return { service, router: createUserSyncRouter(service), webhook };
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
export type { ClerkBackendApiOptions } from "./clerk-backend-api";
export type {
  ConfigProblem,
  ConfigProblemCode,
  SyncCaller,
  SyncResult,
  UserSyncCounts,
  UserSyncEvent,
  UserSyncLogEntry,
  UserSyncOptions,
  UserSyncSource,
} from "./sync";
export type { UsersTable } from "./schema";
export type { TombstoneOrigin, WriteAuthority, WriteOutcome } from "./write-path";
export { retryAfterSecondsOf, userSyncErrorCodeOf, UserSyncError, type UserSyncErrorCode } from "./errors";
