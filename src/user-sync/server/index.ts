import "server-only";

import { createClerkClient } from "@clerk/backend";

import { createProfileService } from "./profile";
import { withProfileProcedures } from "./profile-router";
import { createUserSyncAdmin, type UserSyncAdminOptions } from "./admin";
import { createClerkBackendApi, type ClerkBackendApiOptions } from "./clerk-backend-api";
import { createPostgresClerkBudget, withClerkBudget, type ClerkBudget } from "./clerk-budget";
import { createUserSyncHealth, type UserSyncHealthOptions } from "./health";
import { createReconciler, lastReconcileRun, type ReconcileOptions } from "./reconcile";
import { createUserSyncRouter, routerMount } from "./router";
import { createUserSyncService, type UsersTable, type UserSyncEvent, type UserSyncOptions } from "./sync";
import { UserSyncError } from "./errors";
import { createWriteTelemetry, type WriteTelemetryOptions } from "./telemetry";
import { createClerkWebhookHandler, type ClerkWebhookOptions } from "./webhook";
import { defaultUserSyncTables } from "./schema";
import type { UserSyncDatabase } from "./write-path";

/** Clerk webhook settings; the handler shares the sync's database, users table and telemetry. */
export type UserSyncWebhookOptions = Pick<
  ClerkWebhookOptions,
  "signingSecret" | "instanceId" | "maxBodyBytes" | "retentionDays" | "pruneIntervalMs" | "log"
>;

/** How the plugin is operated: the shared Clerk budget, persisted telemetry, health and the admin API. */
export type UserSyncOperationsOptions = {
  /**
   * The one Clerk Backend API budget of every instance: a `ClerkBudget`, or the PostgreSQL one's
   * settings (default 100 requests / 10 s, Clerk's development limit; reconciliation share 0.5).
   */
  clerkBudget?: ClerkBudget | { requestsPer10s: number; reconcileShare?: number };
  /** Write attempts counted in PostgreSQL (default on, flushed every 5 s); `false` turns it off. */
  telemetry?: false | Omit<WriteTelemetryOptions, "db">;
  /** The admin API's keys and the reconciliation it runs. */
  admin?: Omit<UserSyncAdminOptions, "health" | "apiKey"> & { apiKey?: string };
  health?: Pick<UserSyncHealthOptions, "thresholds" | "lastReconcile" | "clerkCountCacheMs">;
  /**
   * Reconciliation (the admin API's and the CLI's): `lock: "session"` on a single-connection
   * database (embedded PGlite), where the default lock transaction would block the run's own
   * queries.
   */
  reconcile?: Pick<ReconcileOptions, "lock" | "maxChanges" | "incrementalOverlapMs" | "resumeWithinMs" | "retentionMs" | "clerkTimeoutMs">;
};

/**
 * Public server entry of the user sync plugin. The host passes in what it owns (database,
 * users table object, Clerk Backend API key, webhook secret, admin keys), mounts
 * `router(createTRPCRouter)` as `user` in its tRPC app router (`user.sync`, `user.me`, `user.updateProfile`,
 * `user.updateAvatar`), serves `webhook.handle` at its public Clerk webhook route (outside
 * `clerkMiddleware`'s matcher) and `admin.health` / `admin.reconcile` at its admin routes. Every
 * Backend API call draws from `budget`, shared by all instances through PostgreSQL; every write
 * attempt is counted by `telemetry` in PostgreSQL and passed to `onEvent`. `service` exposes
 * `configProblems()` and `counts()`; `profile` the profile edits; `webhook.pruneInbox()` and
 * `webhook.clearDeadLetters()` are for a cron and operators; `reconcile({ dryRun, mode })` repairs
 * the mirror from Clerk's user list (what the admin API and `npm run users:reconcile` run).
 *
 * @example
 * // CLERK_SECRET_KEY, CLERK_API_URL and CLERK_WEBHOOK_SIGNING_SECRET are read from the
 * // environment unless `clerk` / `webhook` say otherwise.
 * export const userSync = createUserSync({ db, users });
 * // The host's tRPC context must carry Clerk's `auth: await auth()`, or this does not compile.
 * export const appRouter = createTRPCRouter({ user: userSync.router(createTRPCRouter) });
 * // src/app/api/webhooks/clerk/route.ts
 * export const { POST } = userSync.webhook;
 * // src/app/api/admin/user-sync/health/route.ts
 * export const GET = (request: Request) => userSync.admin.health(request);
 */
export function createUserSync<TUsers extends UsersTable>(
  hostOptions: Omit<UserSyncOptions<TUsers>, "budget" | "db" | "clerk"> & {
    /** The host's drizzle database, or a function that resolves to it (opened lazily). */
    db: UserSyncDatabase | (() => Promise<UserSyncDatabase>);
    /** Clerk's Backend API; default `CLERK_SECRET_KEY` and `CLERK_API_URL`, as Clerk's SDK reads them. */
    clerk?: Partial<ClerkBackendApiOptions>;
    /** Clerk webhook settings; the signing secret defaults to `CLERK_WEBHOOK_SIGNING_SECRET`. */
    webhook?: Partial<UserSyncWebhookOptions>;
  } & UserSyncOperationsOptions,
) {
  const database = hostOptions.db;
  // Read when a request first needs them, never at module load: `next build` loads this module
  // without Clerk's keys; a missing key is CLERK_NOT_CONFIGURED at the first call and in health.
  const clerk: ClerkBackendApiOptions = {
    get secretKey() {
      return hostOptions.clerk?.secretKey ?? envValue("CLERK_SECRET_KEY");
    },
    get apiUrl() {
      return hostOptions.clerk?.apiUrl ?? envValue("CLERK_API_URL");
    },
  };
  const options = {
    ...hostOptions,
    tables: hostOptions.tables ?? defaultUserSyncTables,
    db: typeof database === "function" ? database : () => Promise.resolve(database),
    clerk,
    webhook: { ...hostOptions.webhook, signingSecret: hostOptions.webhook?.signingSecret ?? envValue("CLERK_WEBHOOK_SIGNING_SECRET") },
  };
  const budget =
    options.clerkBudget && "acquire" in options.clerkBudget
      ? options.clerkBudget
      : createPostgresClerkBudget({
          db: options.db,
          table: options.tables.userSyncClerkBudget,
          requestsPerWindow: options.clerkBudget?.requestsPer10s ?? 100,
          reconcileShare: options.clerkBudget?.reconcileShare,
        });
  const telemetry =
    options.telemetry === false ? null : createWriteTelemetry({ db: options.db, table: options.tables.userSyncWriteStats, ...options.telemetry });
  // Both receive every event: the persisted counters and the host's own metrics hook.
  const onEvent = (event: UserSyncEvent) => {
    telemetry?.record(event);
    options.onEvent?.(event);
  };
  const service = createUserSyncService({ ...options, budget, onEvent });
  const profile = createProfileService({ ...options, budget, onEvent });
  const webhook = createClerkWebhookHandler({
    db: options.db,
    users: options.users,
    tables: options.tables,
    refetch: (userId) => service.refetchUser(userId),
    onEvent,
    ...options.webhook,
  });
  const countApi = withClerkBudget(createClerkBackendApi(options.clerk, { timeoutMs: options.clerkTimeoutMs ?? 5000 }), budget, { maxWaitMs: 2_000 });
  const health = createUserSyncHealth({
    db: options.db,
    users: options.users,
    tables: options.tables,
    countClerkUsers: () => countApi.getUserCount(),
    telemetry: telemetry ?? undefined,
    configProblems: () => [
      ...(clerk.secretKey ? [] : ["CLERK_NOT_CONFIGURED: CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)"]),
      ...service.configProblems().map((problem) => `${problem.code}: ${problem.message}`),
    ],
    webhooksConfigured: !!options.webhook.signingSecret,
    lastReconcile: async () => lastReconcileRun(await options.db(), options.tables),
    ...options.health,
  });
  // Reconciliation lists users with Clerk's own SDK (the list endpoint's paging and filters).
  const reconcile = createReconciler({
    db: options.db,
    users: options.users,
    tables: options.tables,
    clerk: () => {
      const secretKey = clerk.secretKey;
      if (!secretKey) return Promise.reject(new UserSyncError("CLERK_NOT_CONFIGURED", "CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)"));
      return Promise.resolve(createClerkClient({ secretKey, apiUrl: clerk.apiUrl }));
    },
    budget,
    onEvent,
    ...options.reconcile,
  });
  const admin = createUserSyncAdmin({ reconcile, ...options.admin, apiKey: options.admin?.apiKey, health });
  // `user: userSync.router(createTRPCRouter)`: compiles only on a context carrying Clerk's `auth`.
  const router = routerMount(withProfileProcedures(createUserSyncRouter(service), profile));
  return { service, profile, router, webhook, budget, telemetry, health, admin, reconcile };
}

/** A variable set to the empty string counts as unset, as in Clerk's SDK. */
function envValue(name: string): string | undefined {
  const value = process.env[name];
  return value === "" ? undefined : value;
}

export { createClerkWebhookHandler };
export { createPostgresClerkBudget, defaultClerkRequestsPer10s, withClerkBudget } from "./clerk-budget";
export type { ClerkBudget, ClerkBudgetDecision, ClerkCallKind } from "./clerk-budget";
export { createWriteTelemetry, type WriteTelemetry, type WriteTelemetryEvent } from "./telemetry";
export { createUserSyncHealth, defaultHealthThresholds, evaluateHealth } from "./health";
export type { HealthReport, HealthStatus, HealthThresholds, LastReconcileRun } from "./health";
export { createUserSyncAdmin } from "./admin";
export type { UserSyncAdmin } from "./admin";
export { lastReconcileRun, ReconcileClerkError, ReconcileLockedError, reconcileLockHeld, runReconcile } from "./reconcile";
export type { ReconcileMode, ReconcileOptions, ReconcileProgress, ReconcileReport, ReconcileRequest } from "./reconcile";
export type {
  ClerkWebhookCounts,
  ClerkWebhookDeliveryLogEntry,
  ClerkWebhookHandler,
  ClerkWebhookInboxLogEntry,
  ClerkWebhookLogEntry,
  ClerkWebhookOptions,
  DeliveryOutcome,
} from "./webhook";
export type { DeadLetterSelection, InboxPruneOptions, InboxPruneResult } from "./webhook-inbox";
export type { MissingClerkAuth, TRPCRouterFactory, UserSyncContext, UserSyncRouterMount } from "./router";
export type { ClerkBackendApiOptions } from "./clerk-backend-api";
export type {
  ConfigProblem,
  ConfigProblemCode,
  SyncCaller,
  SyncResult,
  UserSyncCounts,
  UserSyncEvent,
  UserSyncLogEntry,
  UserSyncOptions,
  UserSyncSource,
} from "./sync";
export type { UsersTable, UserSyncTables } from "./schema";
export type { TombstoneOrigin, UserSyncDatabase, WriteAuthority, WriteOutcome } from "./write-path";
export { classifyDatabaseError, databaseErrorCode } from "./database-errors";
export type { ClerkProfile, ProfileErrorCode, ProfileUpdateResult } from "./profile";
export { ProfileUpdateError } from "./profile";
export { fieldErrorsOf, type ProfileContext } from "./profile-router";
export { profileInputSchema, profileLimits, type ProfileFieldError, type ProfileInput } from "../shared/profile-input";
export { retryAfterSecondsOf, userSyncErrorCodeOf, UserSyncError, type UserSyncErrorCode } from "./errors";
