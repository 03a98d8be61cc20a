import { sql } from "drizzle-orm";
import { index, pgEnum, pgTable, text } from "drizzle-orm/pg-core";

import { userSyncColumns } from "clerk-user-sync/schema";

// The plugin's own tables, exported here so drizzle-kit migrations include them.
export {
  clerkWebhookEvents,
  userSyncClerkBudget,
  userSyncClerkCache,
  userSyncClerkFetches,
  userSyncClerkUserLimits,
  userSyncConfigProblems,
  userSyncReconcileRuns,
  userSyncReconcileSeen,
  userSyncReconcileLease,
  userSyncClerkSessionKeys,
  userSyncWriteStats,
} from "clerk-user-sync/schema";

export const userTier = pgEnum("user_tier", ["FREE", "PRO", "MAXX"]);

export const users = pgTable(
  "users",
  {
    ...userSyncColumns(),
    /** App-owned: user sync never writes it; only a server-side admin action changes it. */
    tier: userTier("tier").notNull().default("FREE"),
    /** App-owned: edited on /profile (`profile.updateInterests`), never sent to Clerk, never written by sync. */
    interests: text("interests").array().notNull().default(sql`'{}'::text[]`),
  },
  (table) => [index("users_email_idx").on(sql`lower(${table.email})`)],
);

export type User = typeof users.$inferSelect;
