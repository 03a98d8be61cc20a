import "server-only";

/**
 * `clerk-user-sync/server/advanced`: the plugin's building blocks, for benchmarks, tests and
 * hosts that assemble the plugin themselves. No compatibility promise beyond the package's
 * version: a host that only calls `createUserSync` never needs this entry.
 */
export type { BackgroundScheduler } from "./background";
export { createClerkBackendApi, type ClerkBackendApiOptions } from "./clerk/backend-api";
export { createPostgresClerkBudget, withClerkBudget, type ClerkBudget, type ClerkBudgetDecision, type ClerkCallKind } from "./clerk/budget";
export { snapshotFromUserJson, type ClerkUserSnapshot } from "./clerk/user-json";
export { classifyDatabaseError } from "./database";
export { databaseTraits, type DatabaseTraits, type DriverName } from "./drivers";
export type { UserSyncLogEntry, UserSyncSource } from "./events";
export type { TombstoneOrigin, WriteAuthority, WriteOutcome } from "./outcomes";
export { createUserSyncAdmin, type UserSyncAdmin } from "./operations/admin";
export type { AdminRoleOptions, ClerkRoleSubject } from "./operations/admin-role";
export type { ConfigProblem, ConfigProblemCode } from "./events";
export { createUserSyncHealth, type ClerkUserCount } from "./operations/health";
export type { HourlySeriesRequest, WebhookHour, WriteHour } from "./operations/hourly";
export { defaultHealthThresholds, evaluateHealth, type HealthStatus, type HealthThresholds, type LastReconcileRun } from "./operations/health-rules";
export { createWriteTelemetry, type WriteTelemetry, type WriteTelemetryEvent } from "./operations/telemetry";
export type { ProfileContext } from "./profile/router";
export { ProfileUpdateError, type ClerkProfile, type ProfileErrorCode, type ProfileUpdateResult } from "./profile/service";
export { defaultLeaseSeconds, lastReconcileRun, readReconcileRun, runReconcile, type ReconcileOptions } from "./reconcile";
export type { TRPCRouterFactory, UserSyncContext, UserSyncRouterMount } from "./router";
export { syncedTableOf, type UserSyncTables } from "./schema";
export type { SyncCaller, SyncResult, UserSyncCounts, UserSyncServiceOptions } from "./sync";
export type { UserSyncOperationsOptions, UserSyncWebhookOptions } from "./options";
export type { UserSyncRouter } from "./user-sync";
export { upsertClerkUser } from "./write-path";
export { profileLimits, type ProfileFieldError } from "../shared/profile-input";
