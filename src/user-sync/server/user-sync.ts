/** `createUserSync`: the plugin assembled from the host's parts, and the interface it returns. */
import { createClerkBackendApi, type ClerkBackendApi, type ClerkBackendApiOptions } from "./clerk/backend-api";
import { createPostgresClerkBudget, withClerkBudget, type ClerkBudget } from "./clerk/budget";
import { createClerkReadCache, type ClerkReadCache } from "./clerk/cache";
import type { UserSyncDatabase } from "./database";
import { UserSyncError } from "./errors";
import type { ConfigProblem, UserSyncEvent, UserSyncLogEntry } from "./events";
import { createUserSyncAdmin, type UserSyncAdmin } from "./operations/admin";
import { createAdminRoleCheck } from "./operations/admin-role";
import { createUserSyncHealth, type UserSyncHealth } from "./operations/health";
import { createHourlySeries, type HourlySeries, type HourlySeriesRequest } from "./operations/hourly";
import { createWriteTelemetry, type WriteTelemetry } from "./operations/telemetry";
import { withProfileProcedures } from "./profile/router";
import { createProfileService, type ProfileService } from "./profile/service";
import {
  createReconciler,
  createSessionKeyRecorder,
  readReconcileRun,
  type ReconcileReport,
  type ReconcileRequest,
  type ReconcileRunView,
} from "./reconcile";
import { createReconcileStarter } from "./reconcile/start";
import type { UserSyncOptions } from "./options";
import { createUserSyncRouter, routerMount, type UserSyncRouterMount } from "./router";
import { defaultUserSyncTables, type UsersTable, type UserSyncTables } from "./schema";
import { createUserSyncService, type UserSyncService } from "./sync";
import { createClerkWebhookHandler, type ClerkWebhookHandler } from "./webhook/handler";

/** The router `userSync.router(createTRPCRouter)` mounts: `sync`, `me`, `updateProfile`, `updateAvatar`. */
function buildUserSyncRouter<TUsers extends UsersTable>(service: UserSyncService<TUsers>, profile: ProfileService<TUsers>) {
  return withProfileProcedures(createUserSyncRouter(service), profile);
}

export type UserSyncRouter<TUsers extends UsersTable> = ReturnType<typeof buildUserSyncRouter<TUsers>>;

/** What `createUserSync` returns: the parts a host mounts (router, webhook, admin routes) and the operations it may call. */
export interface UserSync<TUsers extends UsersTable> {
  /** `user.sync`'s service: `syncUser`, `readLiveUser`, `refetchUser`, `counts()` and `configProblems()`. */
  service: UserSyncService<TUsers>;
  /** Profile edits: Clerk first, then the write path (`user.updateProfile`, `user.updateAvatar`). */
  profile: ProfileService<TUsers>;
  /**
   * Mount as `user: userSync.router(createTRPCRouter)` in the host's app router. Compiles only on
   * a tRPC context that carries Clerk's `auth: await auth()` (else the type names what is missing).
   */
  router: UserSyncRouterMount<UserSyncRouter<TUsers>>;
  /**
   * The Clerk webhook handler: `export const { POST } = userSync.webhook` at a public route
   * (outside `clerkMiddleware`'s matcher); `pruneInbox()` for a cron, `clearDeadLetters()` for operators.
   */
  webhook: ClerkWebhookHandler;
  /** The one Clerk Backend API budget, shared by every instance through PostgreSQL. */
  budget: ClerkBudget;
  /** Write attempts counted in PostgreSQL; null when `telemetry: false`. `close()` flushes on shutdown. */
  telemetry: WriteTelemetry | null;
  /** The operators' health view (`report()`), also behind `admin.health`. */
  health: UserSyncHealth;
  /** The admin API's route handlers: `admin.health(request)`, `admin.reconcile(request)` (Bearer admin key). */
  admin: UserSyncAdmin;
  /**
   * Repairs the mirror from Clerk's user list (what the admin API, the console and
   * `npm run users:reconcile` run). Rejects with `ReconcileLockedError` while another run holds
   * the lease, `ReconcileRefusedError` when a guard refuses it.
   */
  reconcile(request: ReconcileRequest): Promise<ReconcileReport>;
  /**
   * Starts a reconciliation from a request (the console's Dry run and Apply) and answers its run
   * id as soon as its row exists (the lease taken, nothing else done yet); read its progress with
   * `reconcileRun(runId)`. The run goes on after the response, handed to the `schedule` option
   * (Next's `after()`) so a serverless function is not stopped before it ends; a failure is in
   * its row and logged (`reconcile_failed`, its code). Rejects, like `reconcile`, with
   * `ReconcileLockedError` at once while another run holds the lease, and with any error raised
   * before the run's row exists.
   */
  startReconcile(request: ReconcileRequest): Promise<{ runId: string }>;
  /** The reconciliation run with this id, else the one started last (any source), with `interrupted`. */
  reconcileRun(runId?: string): Promise<ReconcileRunView | null>;
  /**
   * The operators' hourly series (the console's charts), from the plugin's tables as the host made
   * them (`tables`): webhook deliveries by outcome, and write attempts by source and outcome with
   * the self-heals (client syncs that created, updated or restored a row). `hours` (default 24)
   * entries each, oldest first, the hour of `now` (default the clock) last, zeros included. Call
   * `health.check()` first to include this instance's buffered counts (it flushes them).
   */
  hourly(request?: HourlySeriesRequest): Promise<HourlySeries>;
  /** Whether a Clerk user has the admin role, read at most once per user per `adminRole.cacheSeconds` across instances. */
  isAdmin(userId: string): Promise<boolean>;
}

/**
 * The user sync plugin for one host: its database, users table object, Clerk Backend API key,
 * webhook secret and admin keys go in; the `UserSync` parts the host mounts come out. Every
 * Backend API call draws from one budget shared by all instances through PostgreSQL; every write
 * attempt is counted in PostgreSQL and passed to `onEvent`.
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
export function createUserSync<TUsers extends UsersTable>(hostOptions: UserSyncOptions<TUsers>): UserSync<TUsers> {
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
    options.telemetry === false
      ? null
      : createWriteTelemetry({ db: options.db, table: options.tables.userSyncWriteStats, schedule: options.schedule, ...options.telemetry });
  // Both receive every event: the persisted counters and the host's own metrics hook.
  const onEvent = (event: UserSyncEvent) => {
    telemetry?.record(event);
    options.onEvent?.(event);
  };
  // user.sync records its sessions' signing key: reconciliation's proof of instance without CLERK_INSTANCE_ID.
  const onSessionKey = createSessionKeyRecorder({ db: options.db, table: options.tables.userSyncClerkSessionKeys });
  const service = createUserSyncService({ ...options, budget, onEvent, onSessionKey });
  const profile = createProfileService({ ...options, budget, onEvent });
  const webhook = createClerkWebhookHandler({
    db: options.db,
    users: options.users,
    tables: options.tables,
    refetch: (userId) => service.refetchUser(userId),
    onEvent,
    schedule: options.schedule,
    ...options.webhook,
  });
  const clerkTimeoutMs = options.clerkTimeoutMs ?? 5000;
  // Reads shared by every instance for a short period: Clerk's user count, users' admin roles.
  const clerkCache = createClerkReadCache({ db: options.db, table: options.tables.userSyncClerkCache });
  const health = createHealthView({
    ...options,
    clerk,
    clerkCache,
    clerkTimeoutMs,
    countApi: createClerkBackendApi(options.clerk, { timeoutMs: clerkTimeoutMs }),
    budget,
    telemetry,
    recordedConfigProblems: () => service.recordedConfigProblems(),
  });
  const roleWaitMs = 1_000;
  const isAdmin = createAdminRoleCheck({
    ...options.adminRole,
    cache: clerkCache,
    clerkApi: withClerkBudget(createClerkBackendApi(options.clerk, { timeoutMs: clerkTimeoutMs }), budget, { maxWaitMs: roleWaitMs }),
    claimMs: roleWaitMs + clerkTimeoutMs + 1000,
  });
  const reconciler = createReconciler({
    db: options.db,
    users: options.users,
    tables: options.tables,
    clerk,
    budget,
    onEvent,
    ...options.reconcile,
    instanceId: options.reconcile?.instanceId ?? envValue("CLERK_INSTANCE_ID") ?? options.webhook.instanceId,
  });
  // Reconciliation runs on every driver (a lease row, no transaction held); without a secret key it fails before it starts.
  const reconcile = async (request: ReconcileRequest): Promise<ReconcileReport> => {
    if (!clerk.secretKey) throw new UserSyncError("CLERK_NOT_CONFIGURED", "CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)");
    return reconciler(request);
  };
  const reconcileRun = async (runId?: string) => readReconcileRun(await options.db(), { tables: options.tables, runId });
  const startReconcile = createReconcileStarter({
    reconcile,
    schedule: options.schedule,
    log: options.log ?? ((entry: UserSyncLogEntry) => console.warn("user-sync", JSON.stringify(entry))),
  });
  const hourly = createHourlySeries({ db: options.db, tables: options.tables });
  const admin = createUserSyncAdmin({ reconcile, ...options.admin, apiKey: options.admin?.apiKey, health });
  // `user: userSync.router(createTRPCRouter)`: compiles only on a context carrying Clerk's `auth`.
  const router = routerMount(buildUserSyncRouter(service, profile));
  return { service, profile, router, webhook, budget, telemetry, health, admin, reconcile, startReconcile, reconcileRun, hourly, isAdmin };
}

/**
 * The health view as `createUserSync` wires it: Clerk's count read once for all instances
 * (`user_sync_clerk_cache`) through the shared budget, configuration problems any instance recorded.
 */
function createHealthView(parts: {
  db: () => Promise<UserSyncDatabase>;
  users: UsersTable;
  tables: UserSyncTables;
  health?: UserSyncOptions["health"];
  webhook: { signingSecret?: string };
  clerk: ClerkBackendApiOptions;
  clerkCache: ClerkReadCache;
  clerkTimeoutMs: number;
  countApi: ClerkBackendApi;
  budget: ClerkBudget;
  telemetry: WriteTelemetry | null;
  recordedConfigProblems: () => Promise<Required<ConfigProblem>[]>;
}): UserSyncHealth {
  const { clerk, clerkCache, clerkTimeoutMs } = parts;
  const countWaitMs = 2_000;
  const countApi = withClerkBudget(parts.countApi, parts.budget, { maxWaitMs: countWaitMs });
  const { clerkCountCacheMs = 60_000, ...healthOptions } = parts.health ?? {};
  const countClerkUsers = async (options?: { readAfter?: Date | null }) => {
    const read = { periodMs: clerkCountCacheMs, claimMs: countWaitMs + clerkTimeoutMs + 1000, readAfter: options?.readAfter };
    const { value, readAt } = await clerkCache.read("user_count", read, () => countApi.getUserCount());
    return { count: value, readAt };
  };
  return createUserSyncHealth({
    db: parts.db,
    users: parts.users,
    tables: parts.tables,
    countClerkUsers,
    telemetry: parts.telemetry ?? undefined,
    // Recorded by any instance, so every instance's health view shows them.
    configProblems: async () => [
      ...(clerk.secretKey ? [] : ["CLERK_NOT_CONFIGURED: CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)"]),
      ...(await parts.recordedConfigProblems()).map((problem) => `${problem.code}: ${problem.message} (last seen ${problem.lastSeenAt.toISOString()})`),
    ],
    webhooksConfigured: !!parts.webhook.signingSecret,
    ...healthOptions,
    // The count's period is kept in PostgreSQL (above), not per instance.
    clerkCountCacheMs: 0,
  });
}

/** A variable set to the empty string counts as unset, as in Clerk's SDK. */
function envValue(name: string): string | undefined {
  const value = process.env[name];
  return value === "" ? undefined : value;
}
