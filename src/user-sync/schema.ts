/**
 * Public entry (any runtime, drizzle-kit included): the tables and columns user sync needs.
 * The host spreads `userSyncColumns()` into its `users` table and exports the plugin's own
 * tables from its schema file so its migrations include them.
 */
export {
  clerkWebhookEvents,
  userSyncClerkBudget,
  userSyncClerkFetches,
  userSyncColumns,
  userSyncReconcileRuns,
  userSyncReconcileSeen,
  userSyncWriteStats,
} from "./server/schema";
