import "server-only";

/** Public server entry of the user sync plugin: `createUserSync` (user-sync.ts) and its parts. */
export { createUserSync, type UserSyncOperationsOptions, type UserSyncWebhookOptions } from "./user-sync";
export { createClerkWebhookHandler } from "./webhook/handler";
export { databaseTraits } from "./drivers";
export type { DatabaseTraits, DriverName } from "./drivers";
export type { BackgroundScheduler } from "./background";
export { createPostgresClerkBudget, defaultClerkRequestsPer10s, withClerkBudget } from "./clerk/budget";
export type { ClerkBudget, ClerkBudgetDecision, ClerkCallKind } from "./clerk/budget";
export { createWriteTelemetry, type WriteTelemetry, type WriteTelemetryEvent } from "./operations/telemetry";
export { createUserSyncHealth, defaultHealthThresholds, evaluateHealth } from "./operations/health";
export type { ClerkUserCount, HealthReport, HealthStatus, HealthThresholds, LastReconcileRun } from "./operations/health";
export { createUserSyncAdmin } from "./operations/admin";
export type { AdminRoleOptions, ClerkRoleSubject } from "./operations/admin-role";
export type { UserSyncAdmin } from "./operations/admin";
export {
  defaultLeaseSeconds,
  lastReconcileRun,
  readReconcileRun,
  ReconcileClerkError,
  ReconcileLeaseLostError,
  ReconcileLockedError,
  ReconcileRefusedError,
  runReconcile,
} from "./reconcile";
export type {
  ReconcileMode,
  ReconcileOptions,
  ReconcileProgress,
  ReconcileRefusalCode,
  ReconcileReport,
  ReconcileRequest,
  ReconcileRunView,
} from "./reconcile";
export type { ClerkWebhookHandler } from "./webhook/handler";
export type {
  ClerkWebhookCounts,
  ClerkWebhookDeliveryLogEntry,
  ClerkWebhookInboxLogEntry,
  ClerkWebhookLogEntry,
  ClerkWebhookOptions,
  DeliveryOutcome,
} from "./webhook/types";
export type { DeadLetterSelection, InboxPruneOptions, InboxPruneResult } from "./webhook/inbox";
export type { MissingClerkAuth, TRPCRouterFactory, UserSyncContext, UserSyncRouterMount } from "./router";
export type { ClerkBackendApiOptions } from "./clerk/backend-api";
export type { SyncCaller, SyncResult, UserSyncCounts, UserSyncServiceOptions as UserSyncOptions } from "./sync";
export type { ConfigProblem, ConfigProblemCode } from "./operations/config-problems";
export type { UserSyncEvent, UserSyncLogEntry, UserSyncSource } from "./events";
export type { UsersTable, UserSyncTables } from "./schema";
export type { TombstoneOrigin, WriteAuthority, WriteOutcome } from "./outcomes";
export type { UserSyncDatabase } from "./database";
export { classifyDatabaseError, databaseErrorCode } from "./database";
export type { ClerkProfile, ProfileErrorCode, ProfileUpdateResult } from "./profile/service";
export { ProfileUpdateError } from "./profile/service";
export { fieldErrorsOf, type ProfileContext } from "./profile/router";
export { profileInputSchema, profileLimits, type ProfileFieldError, type ProfileInput } from "../shared/profile-input";
export { retryAfterSecondsOf, toTRPCError, userSyncErrorCodeOf, UserSyncError, type UserSyncErrorCode } from "./errors";
