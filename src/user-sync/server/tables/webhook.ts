import { sql } from "drizzle-orm";
import { bigint, index, text, timestamp, type PgTableFn } from "drizzle-orm/pg-core";

import type { WriteOutcome } from "../outcomes";
import type { FinalName } from "./final-name";

/**
 * What became of one webhook delivery: a write-path outcome; `diverged`, a payload with the
 * row's Clerk clock but other values that no fetch from Clerk settled; or `dead_letter`, a signed
 * payload it could not use.
 */
export type WebhookInboxOutcome = WriteOutcome | "diverged" | "dead_letter";

/** The webhook inbox's table. */
export function webhookTables<TSchema extends string | undefined>(table: PgTableFn<TSchema>, finalName: FinalName) {
  return {
    /**
     * One row per Clerk (Svix) message id, written in the same statement as the message's
     * effect, so a redelivered message is applied once and a failed one leaves no row. Dead
     * letters are signed payloads that can never apply (kept, acknowledged, not retried) until an
     * operator clears them; processed rows are pruned after the retention window.
     */
    clerkWebhookEvents: table(
      "clerk_webhook_events",
      {
        /** `svix-id`: the same on every redelivery of one message. */
        svixId: text("svix_id").primaryKey(),
        eventType: text("event_type"),
        clerkUserId: text("clerk_user_id"),
        /** The envelope's `timestamp` (when the event happened in Clerk, ms); null when it had none. */
        eventTimestampMs: bigint("event_timestamp_ms", { mode: "number" }),
        outcome: text("outcome").$type<WebhookInboxOutcome>().notNull(),
        /** Why a dead letter could not apply: a reason code and schema issue paths, never values. */
        deadLetterReason: text("dead_letter_reason"),
        receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
        /** When the effect committed. Null for dead letters: they were acknowledged, not processed. */
        processedAt: timestamp("processed_at", { withTimezone: true }),
      },
      (t) => [
        // Retention prunes processed rows by age in batches; dead letters are kept, so not indexed.
        index(`${finalName("clerk_webhook_events")}_prunable_idx`).on(t.receivedAt).where(sql`${t.outcome} <> 'dead_letter'`),
      ],
    ),
  };
}
