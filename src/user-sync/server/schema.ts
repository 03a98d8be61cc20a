import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The columns user sync owns. The host spreads them into its own `users` table and adds
 * its app-owned columns beside them (sync never writes those):
 *
 *   export const users = pgTable("users", { ...userSyncColumns(), tier: ... });
 */
export function userSyncColumns() {
  return {
    /** Clerk's user id (`user_…`). */
    id: text("id").primaryKey(),
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    username: text("username"),
    imageUrl: text("image_url"),
    /** Clerk's own clock for this user, in milliseconds: its `updated_at`, or a deletion's event time. */
    clerkUpdatedAt: bigint("clerk_updated_at", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** When a sync writer last changed this row from Clerk's data. */
    lastSyncedAt: timestamp("last_synced_at", { withTimezone: true }),
    /** Tombstone: the user was deleted in Clerk. Nothing writes a tombstoned row again. */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  };
}

/** The plugin's own view of the host's users table: only the columns it owns. */
export function syncedUsersTable(tableName: string) {
  return pgTable(tableName, userSyncColumns());
}

export type SyncedUsersTable = ReturnType<typeof syncedUsersTable>;
export type SyncedUserRow = SyncedUsersTable["$inferSelect"];
