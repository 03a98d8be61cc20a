import { bigint, boolean, integer, primaryKey, text, timestamp, type PgTableFn } from "drizzle-orm/pg-core";

import type { FinalName } from "./final-name";

/** The operator's tables: configuration problems seen at run time, persisted write telemetry. */
export function operationsTables<TSchema extends string | undefined>(table: PgTableFn<TSchema>, finalName: FinalName) {
  return {
    /**
     * Configuration problems any instance saw at run time (a Backend API of another Clerk instance,
     * a rejected secret key), one row per code, shown by every instance's health view until a later
     * successful proof clears it. Messages name settings, never values.
     */
    userSyncConfigProblems: table("user_sync_config_problems", {
      code: text("code").primaryKey(),
      message: text("message").notNull(),
      firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull(),
      lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull(),
    }),

    /**
     * Persisted write telemetry: counts of write attempts per minute, source, outcome, whether
     * Clerk was called and error code. No user data. Pruned after the retention period.
     */
    userSyncWriteStats: table(
      "user_sync_write_stats",
      {
        bucketStart: timestamp("bucket_start", { withTimezone: true }).notNull(),
        source: text("source").notNull(),
        outcome: text("outcome").notNull(),
        clerkFetched: boolean("clerk_fetched").notNull(),
        /** Empty when the attempt did not fail (a primary key column cannot be null). */
        errorCode: text("error_code").notNull().default(""),
        count: bigint("count", { mode: "number" }).notNull(),
        durationMsTotal: bigint("duration_ms_total", { mode: "number" }).notNull(),
        durationMsMax: integer("duration_ms_max").notNull(),
      },
      (t) => [primaryKey({ name: `${finalName("user_sync_write_stats")}_pk`, columns: [t.bucketStart, t.source, t.outcome, t.clerkFetched, t.errorCode] })],
    ),
  };
}
