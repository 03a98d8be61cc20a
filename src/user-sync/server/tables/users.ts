import { getTableColumns, getTableName } from "drizzle-orm";
import { bigint, boolean, pgTable, text, timestamp, type PgColumn, type PgTable } from "drizzle-orm/pg-core";

import type { TombstoneOrigin, WriteOutcome } from "../outcomes";

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
    /** The primary phone number (E.164), for users who have one (phone-only users have no email). */
    phoneNumber: text("phone_number"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    username: text("username"),
    imageUrl: text("image_url"),
    /** Clerk's `banned`: Clerk revoked the user's sessions and refuses sign-in. A host may refuse access on it. */
    banned: boolean("banned").notNull().default(false),
    /**
     * Clerk's `locked` (too many failed sign-ins): Clerk refuses new sign-ins until the lockout
     * expires but keeps existing sessions, so a host that must stop a locked user checks this.
     */
    locked: boolean("locked").notNull().default(false),
    /** Clerk's own clock for this user, in milliseconds: its `updated_at`, or a deletion's event time. */
    clerkUpdatedAt: bigint("clerk_updated_at", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** When a mirrored value last changed (a clock-only write, `touched`, leaves it alone). */
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** When the write path last wrote this row, and what that write was. */
    lastSyncedAt: timestamp("last_synced_at", { withTimezone: true }),
    lastSyncOutcome: text("last_sync_outcome").$type<WriteOutcome>(),
    /**
     * When a write that a fetch from Clerk's Backend API made (`user.sync`, reconciliation,
     * a profile edit) last changed this row (database clock). An identical fetch writes nothing,
     * so it is not the cooldown's state: that is `user_sync_clerk_fetches`.
     */
    clerkFetchedAt: timestamp("clerk_fetched_at", { withTimezone: true }),
    /** Tombstone: the user was deleted in Clerk. */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /**
     * Who wrote the tombstone. `webhook` (Clerk's own `user.deleted`) is final; a tombstone
     * from a Backend API 404 (`client-sync`, `reconcile`) is lifted if Clerk later serves the
     * user with a newer clock.
     */
    deletedBy: text("deleted_by").$type<TombstoneOrigin>(),
  };
}

export type UserSyncColumns = ReturnType<typeof userSyncColumns>;

/** The plugin's own view of a users table: only the columns it owns. Its type, for the write path. */
function syncedUsersTableShape() {
  return pgTable("users", userSyncColumns());
}

export type SyncedUsersTable = ReturnType<typeof syncedUsersTableShape>;
export type SyncedUserRow = SyncedUsersTable["$inferSelect"];

/** A host table that holds the plugin's columns, whatever else it holds and in whichever schema. */
export type UsersTable = PgTable & { [K in keyof UserSyncColumns]: PgColumn };

/**
 * The host's own table object, typed as the plugin's columns. Queries keep the host's table,
 * so a schema-qualified table (`pgSchema("app").table(...)`) is read and written where it
 * lives, and RETURNING yields the host's full row.
 */
export function syncedTableOf(users: UsersTable): SyncedUsersTable {
  const columns: Record<string, PgColumn | undefined> = getTableColumns(users);
  const expected = getTableColumns(syncedUsersTableShape());
  const missing = Object.entries(expected)
    .filter(([key, column]) => columns[key]?.name !== column.name)
    .map(([key]) => key);
  if (missing.length > 0) {
    throw new Error(
      `User sync: table "${getTableName(users)}" lacks the columns of userSyncColumns() (${missing.join(", ")}); spread them into it and migrate`,
    );
  }
  return users as unknown as SyncedUsersTable;
}
