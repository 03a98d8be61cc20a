import { sql } from "drizzle-orm";
import { index, pgEnum, pgTable } from "drizzle-orm/pg-core";

import { userSyncColumns } from "../../user-sync/schema";

// The plugin's own tables, exported here so drizzle-kit migrations include them.
export { clerkWebhookEvents, userSyncReconcileRuns, userSyncReconcileSeen } from "../../user-sync/schema";

export const userTier = pgEnum("user_tier", ["FREE", "PRO", "MAXX"]);

export const users = pgTable(
  "users",
  {
    ...userSyncColumns(),
    /** App-owned: user sync never writes it. */
    tier: userTier("tier").notNull().default("FREE"),
  },
  (table) => [index("users_email_idx").on(sql`lower(${table.email})`)],
);

export type User = typeof users.$inferSelect;
