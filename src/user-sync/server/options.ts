/**
 * `UserSyncOptions`: everything `createUserSync` takes, declared once. The internal option types
 * (the sync service's, the webhook handler's, reconciliation's, …) are derived from it or
 * documented where they live; the keys here are contracts hosts and the README use.
 * Durations carry their unit in their name; fields added from now on use milliseconds (`…Ms`).
 */
import type { BackgroundScheduler } from "./background";
import type { ClerkBackendApiOptions } from "./clerk/backend-api";
import type { ClerkBudget } from "./clerk/budget";
import type { UserSyncDatabase } from "./database";
import type { UserSyncEvent, UserSyncLogEntry } from "./events";
import type { UserSyncAdminOptions } from "./operations/admin";
import type { AdminRoleOptions } from "./operations/admin-role";
import type { UserSyncHealthOptions } from "./operations/health";
import type { WriteTelemetryOptions } from "./operations/telemetry";
import type { ReconcileOptions } from "./reconcile/options";
import type { UsersTable, UserSyncTables } from "./schema";
import type { ClerkWebhookLogEntry } from "./webhook/types";

export interface UserSyncOptions<TUsers extends UsersTable = UsersTable> {
  /**
   * The host's drizzle database (any PostgreSQL driver), or a function that resolves to it: then
   * it is opened at the first request that needs it, never at module load.
   */
  db: UserSyncDatabase | (() => Promise<UserSyncDatabase>);
  /** The host's users table object, built with `userSyncColumns()` (any `pgSchema`). */
  users: TUsers;
  /**
   * The plugin's own tables, made with the host's table function (`userSyncTables(createTable)`).
   * @default the tables of `clerk-user-sync/schema`, under their own names
   */
  tables?: UserSyncTables;
  /**
   * Clerk's Backend API: the instance's secret key and its URL, each read at first use.
   * @default { secretKey: process.env.CLERK_SECRET_KEY, apiUrl: process.env.CLERK_API_URL } (as Clerk's SDK reads them)
   */
  clerk?: Partial<ClerkBackendApiOptions>;
  /**
   * A user fetched from Clerk less than this long ago (by any app instance: the time is kept in
   * `user_sync_clerk_fetches`, by the database's clock) is answered from the database.
   * @default 10
   */
  cooldownSeconds?: number;
  /**
   * Bound on one Backend API call (`user.sync`, profile edits, the health view's count, role
   * reads); the request is aborted when it passes.
   * @default 5000
   */
  clerkTimeoutMs?: number;
  /**
   * How long a sync may wait for a slot of the Clerk budget before failing with `CLERK_RATE_LIMITED`.
   * @default 1000
   */
  clerkBudgetWaitMs?: number;
  /**
   * Run the hot statements (the write path, the cooldown claim) as named server-side prepared
   * statements. Only for a direct connection to PostgreSQL: a transaction pooler (PgBouncer,
   * Supabase's, Neon's) sends each statement to any server connection.
   * @default false
   */
  preparedStatements?: boolean;
  /**
   * The host's metrics hook: one event per write attempt (client sync, webhook, reconciliation,
   * profile edit), without user data. Its failures are ignored.
   * @default none (the attempts are still counted by `telemetry`)
   */
  onEvent?: (event: UserSyncEvent) => void;
  /**
   * Where configuration problems and driver limitations are logged, once per process each.
   * Every configuration problem sighted is also recorded in `user_sync_config_problems` for
   * every instance's health view.
   * @default configuration problems to `console.error`, driver limitations to `console.warn`
   */
  log?: (entry: UserSyncLogEntry) => void;
  /**
   * The Clerk webhook (`userSync.webhook`); it shares the sync's database, users table and telemetry.
   * @default { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET }
   */
  webhook?: UserSyncWebhookOptions;
  /**
   * Where background work runs: the telemetry flush (and its prune) after a request that counted
   * a write, the webhook inbox prune after a delivery. Give your platform's "finish this after
   * the response" hook, so a serverless function is not frozen before it is done: with Next,
   * `(task) => after(task)` (`next/server`); elsewhere `(task) => waitUntil(task())`. Called
   * during the request; where it throws (outside a request), the work falls back to the flush
   * interval's timer and to starting the prune off the response's path.
   * @default none: the timer and off-path prunes (fine for a long-lived server that flushes on shutdown with `telemetry.close()`)
   */
  schedule?: BackgroundScheduler;
  /**
   * The one Clerk Backend API budget of every instance: a `ClerkBudget`, or the settings of the
   * one kept in PostgreSQL (`requestsPer10s`: Clerk's limit for the key; `reconcileShare`: the
   * part reconciliation may take).
   * @default { requestsPer10s: 100, reconcileShare: 0.5 } (Clerk's development limit)
   */
  clerkBudget?: ClerkBudget | { requestsPer10s: number; reconcileShare?: number };
  /**
   * Write attempts counted in PostgreSQL (`user_sync_write_stats`); `false` turns it off.
   * @default on, flushed every 5 s, kept 14 days
   */
  telemetry?: false | Omit<WriteTelemetryOptions, "db" | "table" | "now">;
  /**
   * The admin API (`userSync.admin.health`, `userSync.admin.reconcile`): its keys, and the
   * reconciliation it runs.
   * @default no key: the admin API answers 503
   */
  admin?: Omit<UserSyncAdminOptions, "health" | "apiKey"> & { apiKey?: string };
  /**
   * The health view. `clerkCountCacheMs`: how long Clerk's user count, once read by any instance,
   * is reused by every instance (kept in `user_sync_clerk_cache`; the report's `clerkUsersReadAt`
   * says when it was read).
   * @default { clerkCountCacheMs: 60000, timeoutMs: 5000 } and `defaultHealthThresholds`
   */
  health?: Pick<UserSyncHealthOptions, "thresholds" | "clerkCountCacheMs" | "timeoutMs">;
  /**
   * `userSync.isAdmin(userId)`: who the admin predicate accepts and how long a role read from
   * Clerk is reused by every instance.
   * @default { isAdmin: (user) => user.publicMetadata.role === "admin", cacheSeconds: 60 }
   */
  adminRole?: AdminRoleOptions;
  /**
   * Reconciliation (the admin API's, the console's and the CLI's). `instanceId` is the app's
   * Clerk instance, which each run proves against the Backend API's JWKS before it writes;
   * `maxDeletions` is `USER_SYNC_RECONCILE_MAX_DELETIONS`.
   * @default { instanceId: process.env.CLERK_INSTANCE_ID ?? webhook.instanceId } (unset: the signing key of the sessions `user.sync` verified); the rest as `ReconcileOptions` documents
   */
  reconcile?: Pick<
    ReconcileOptions,
    | "instanceId"
    | "maxDeletions"
    | "leaseSeconds"
    | "maxChanges"
    | "incrementalOverlapMs"
    | "incrementalMaxDepth"
    | "resumeWithinMs"
    | "retentionMs"
    | "clerkTimeoutMs"
  >;
}

/** `UserSyncOptions.webhook`: the Clerk webhook's settings. */
export interface UserSyncWebhookOptions {
  /**
   * The endpoint's `whsec_…` signing secret. Unset: every delivery is answered 503.
   * @default process.env.CLERK_WEBHOOK_SIGNING_SECRET
   */
  signingSecret?: string;
  /**
   * When set, events whose envelope `instance_id` differs are acknowledged, ignored, logged at
   * `warn` and counted.
   * @default unset: every instance's events apply
   */
  instanceId?: string;
  /**
   * Larger bodies are refused with 413 before they are read in full.
   * @default 262144 (256 KiB)
   */
  maxBodyBytes?: number;
  /**
   * Processed inbox rows older than this many days are pruned (dead letters are kept).
   * @default 30
   */
  retentionDays?: number;
  /**
   * At most one automatic prune per this interval per process; 0 turns it off (prune by cron).
   * @default 300000 (5 min)
   */
  pruneIntervalMs?: number;
  /**
   * Where the one line per delivery (and per prune that did something) goes.
   * @default JSON to the console
   */
  log?: (entry: ClerkWebhookLogEntry) => void;
}

/** The operations part of `UserSyncOptions`: the shared Clerk budget, telemetry, health, the admin API. */
export type UserSyncOperationsOptions = Pick<UserSyncOptions, "clerkBudget" | "telemetry" | "admin" | "health" | "adminRole" | "reconcile">;
