import "server-only";

/**
 * Public entry for a webhook-only setup: Clerk's Svix-signed deliveries written through the same
 * guarded write path, without the rest of the plugin. A host that calls `createUserSync` already
 * has this handler as `userSync.webhook` (its route is `export const { POST } = userSync.webhook`).
 *
 * @example
 * // src/app/api/webhooks/clerk/route.ts
 * export const { POST } = createClerkWebhookHandler({ db, users, signingSecret: env.CLERK_WEBHOOK_SIGNING_SECRET });
 */
export { createClerkWebhookHandler, type ClerkWebhookHandler } from "./server/webhook/handler";
export type { DeadLetterSelection, InboxPruneOptions, InboxPruneResult } from "./server/webhook/inbox";
export type {
  ClerkWebhookCounts,
  ClerkWebhookDeliveryLogEntry,
  ClerkWebhookInboxLogEntry,
  ClerkWebhookLogEntry,
  ClerkWebhookOptions,
  DeliveryOutcome,
} from "./server/webhook/types";
