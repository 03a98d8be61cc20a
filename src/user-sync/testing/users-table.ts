import { pgTable, text } from "drizzle-orm/pg-core";

import { defaultUserSyncTables, userSyncColumns } from "../server/schema";

/**
 * A host's `users` table for tests: the columns user sync writes (`userSyncColumns()`) and one
 * column the app owns, `tier`, which sync must never write (tests set it and check it survives).
 * It maps onto the `users` table that this repository's migrations (`drizzle/`) create, where
 * `tier` is the enum `user_tier` (default `'FREE'`): declared here as text, which reads it as
 * its label and is never written by the plugin. Columns the app adds beyond these (`interests`)
 * have defaults and stay undeclared.
 */
export const testUsers = pgTable("users", {
  ...userSyncColumns(),
  tier: text("tier").notNull().default("FREE"),
});

/** A row of `testUsers`. */
export type TestUser = typeof testUsers.$inferSelect;

/**
 * The drizzle schema of a test database: `testUsers` and the plugin's own tables under their
 * default names (`userSyncTables()`, the very objects the plugin uses when a host passes none).
 */
export const testSchema = { users: testUsers, ...defaultUserSyncTables };
