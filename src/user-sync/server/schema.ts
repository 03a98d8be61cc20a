import { pgTable, type PgTableFn } from "drizzle-orm/pg-core";

import { clerkTables } from "./tables/clerk";
import { finalNameOf } from "./tables/final-name";
import { operationsTables } from "./tables/operations";
import { reconcileTables } from "./tables/reconcile";
import { webhookTables } from "./tables/webhook";

export { syncedTableOf, userSyncColumns, type SyncedUserRow, type SyncedUsersTable, type UserSyncColumns, type UsersTable } from "./tables/users";
export type { WebhookInboxOutcome } from "./tables/webhook";
export type { ReconcileChange, ReconcileChangeKind, ReconcileMode, ReconcilePhase, ReconcileRunStatus, ReconcileSeenState } from "./tables/reconcile";

/**
 * The plugin's own tables, made with the host's table function: `pgTable` (the default, the
 * names below), create-t3-app's `createTable` (`pgTableCreator`, so they take the project's
 * prefix and its drizzle-kit `tablesFilter` manages them) or `pgSchema("app").table`. The host
 * exports each table from its schema file (drizzle-kit reads top-level exports only) and passes
 * the same set to `createUserSync({ tables })`:
 *
 *   export const { clerkWebhookEvents, userSyncClerkBudget, … } = userSyncTables(createTable);
 *
 * Index and constraint names follow the table's final name, so two prefixes never collide.
 */
export function userSyncTables<TSchema extends string | undefined = undefined>(table: PgTableFn<TSchema> = pgTable as PgTableFn<TSchema>) {
  const finalName = finalNameOf(table);
  return { ...webhookTables(table, finalName), ...reconcileTables(table, finalName), ...clerkTables(table), ...operationsTables(table, finalName) };
}

/** The plugin's tables as the plugin uses them, whichever table function made them. */
export type UserSyncTables = ReturnType<typeof userSyncTables<string | undefined>>;

/** The tables under their own names in the default schema (`public`): what `createUserSync` uses unless given `tables`. */
export const defaultUserSyncTables: UserSyncTables = userSyncTables();

export const {
  clerkWebhookEvents,
  userSyncReconcileRuns,
  userSyncReconcileSeen,
  userSyncReconcileLease,
  userSyncClerkSessionKeys,
  userSyncClerkBudget,
  userSyncClerkFetches,
  userSyncClerkCache,
  userSyncClerkUserLimits,
  userSyncConfigProblems,
  userSyncWriteStats,
} = defaultUserSyncTables;

export type ClerkWebhookEventRow = UserSyncTables["clerkWebhookEvents"]["$inferSelect"];
export type ReconcileRunRow = UserSyncTables["userSyncReconcileRuns"]["$inferSelect"];
