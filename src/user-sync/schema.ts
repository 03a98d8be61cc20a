/**
 * Public entry (any runtime, drizzle-kit included): the tables and columns user sync needs.
 * The host spreads `userSyncColumns()` into its `users` table and exports the plugin's own
 * tables from its schema file so its migrations include them: these, under their own names
 * (`export * from "clerk-user-sync/schema"`), or `userSyncTables(createTable)` made with the
 * host's table function (a prefix, a `pgSchema`) and passed to `createUserSync({ tables })`.
 */
export type { UserSyncTables } from "./server/schema";
export {
  userSyncTables,
  clerkWebhookEvents,
  userSyncClerkBudget,
  userSyncClerkCache,
  userSyncClerkFetches,
  userSyncClerkUserLimits,
  userSyncColumns,
  userSyncConfigProblems,
  userSyncReconcileRuns,
  userSyncReconcileSeen,
  userSyncReconcileLease,
  userSyncClerkSessionKeys,
  userSyncWriteStats,
} from "./server/schema";
