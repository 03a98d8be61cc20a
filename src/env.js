import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";

/** A comma-separated list of http(s) URLs, reduced to their origins (what Clerk's `azp` holds). */
const originList = z
  .string()
  .transform((value) => value.split(",").map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin)).min(1));

/**
 * The environment, validated once. `next.config.mjs` imports this file, so a bad
 * value fails `next dev` / `next build` / `next start` instead of a request at run time.
 */
export const env = createEnv({
  server: {
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    /** postgres:// URL. Unset: the embedded PGlite database under PGLITE_DATA_DIR (not in production, see below). */
    DATABASE_URL: z.url().optional(),
    /** Allows the embedded PGlite database when NODE_ENV=production (demos only: one process, local disk). */
    ALLOW_EMBEDDED_DATABASE: z.stringbool().default(false),
    PGLITE_DATA_DIR: z.string().default(".data/pglite"),
    /** Internal: `npm run demo` holds the PGlite folder's lock for the app it starts and passes its token here. */
    PGLITE_LOCK_TOKEN: z.string().optional(),
    /**
     * How DATABASE_URL reaches PostgreSQL: "session" (the server itself, or a session pooler) or
     * "transaction" (a transaction pooler: PgBouncer pool_mode=transaction, Supabase's pooler on
     * 6543, Neon's -pooler host): no prepared statements, no startup parameters, timeouts per
     * statement and per transaction.
     */
    DATABASE_POOL_MODE: z.enum(["session", "transaction"]).default("session"),
    /** Seconds to wait for a new PostgreSQL connection before the query fails. */
    DATABASE_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().positive().default(5),
    /** PostgreSQL's statement_timeout (and idle-in-transaction timeout) for the app's connections; 0 disables. */
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
    CLERK_SECRET_KEY: z.string().startsWith("sk_"),
    /** Backend API base URL; Clerk's SDK reads it itself. Set for the local emulator. */
    CLERK_API_URL: z.url().optional(),
    /** PEM public key: verify session tokens with no network (passed to clerkMiddleware). */
    CLERK_JWT_KEY: z.string().includes("BEGIN PUBLIC KEY").optional(),
    /** whsec_… secret of the Clerk webhook endpoint; unset disables /api/webhooks/clerk. */
    CLERK_WEBHOOK_SIGNING_SECRET: z.string().startsWith("whsec_").optional(),
    /** When set, webhook events of any other Clerk instance are ignored, and reconciliation proves the Backend API is this instance. */
    CLERK_INSTANCE_ID: z.string().min(1).optional(),
    /** Days a processed webhook's svix-id is kept in clerk_webhook_events (Svix retries for about 28 h). */
    USER_SYNC_WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(2).default(30),
    /** The app's origin(s), comma-separated: session tokens whose `azp` is another origin are refused. */
    APP_URL: originList.optional(),
    /** A user fetched from Clerk less than this long ago is not fetched again by user.sync. */
    USER_SYNC_COOLDOWN_SECONDS: z.coerce.number().int().min(0).default(10),
    /** Bound on one Backend API call made by user.sync. */
    USER_SYNC_CLERK_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
    /** Bearer key of /api/admin/user-sync/*; unset, the admin API answers 503. */
    ADMIN_API_KEY: z.string().min(32).regex(/^\S+$/, "no whitespace").optional(),
    /** The admin key being rotated out, accepted beside ADMIN_API_KEY until removed. */
    ADMIN_API_KEY_PREVIOUS: z.string().min(32).regex(/^\S+$/, "no whitespace").optional(),
    /** Clerk Backend API requests per 10 s shared by all instances (default 1000 for sk_live_, 100 otherwise). */
    USER_SYNC_CLERK_REQUESTS_PER_10S: z.coerce.number().int().positive().optional(),
    /** The most of that budget reconciliation may take. */
    USER_SYNC_RECONCILE_BUDGET_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
    /** The most tombstones one reconciliation may write (default: more than 10 and more than 2% of live rows is refused). */
    USER_SYNC_RECONCILE_MAX_DELETIONS: z.coerce.number().int().min(0).optional(),
    /** A reconciliation run's lease lasts this long after its last renewal: a stopped run is taken over after it. */
    USER_SYNC_RECONCILE_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** How long the health view (admin API, console) reuses Clerk's user count, shared by every instance (0: every check asks). */
    USER_SYNC_CLERK_COUNT_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    /** How long a user's admin role read from Clerk is reused by every instance: the most a revoked role keeps working. */
    USER_SYNC_ADMIN_ROLE_CACHE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    /** Serves `bench.noop`, the benchmark's framework floor (a protected tRPC mutation that does nothing). */
    BENCH_FRAMEWORK_FLOOR: z.stringbool().default(false),
  },
  client: {
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_/),
  },
  runtimeEnv: {
    NODE_ENV: process.env.NODE_ENV,
    DATABASE_URL: process.env.DATABASE_URL,
    ALLOW_EMBEDDED_DATABASE: process.env.ALLOW_EMBEDDED_DATABASE,
    PGLITE_DATA_DIR: process.env.PGLITE_DATA_DIR,
    PGLITE_LOCK_TOKEN: process.env.PGLITE_LOCK_TOKEN,
    DATABASE_POOL_MODE: process.env.DATABASE_POOL_MODE,
    DATABASE_CONNECT_TIMEOUT_SECONDS: process.env.DATABASE_CONNECT_TIMEOUT_SECONDS,
    DATABASE_STATEMENT_TIMEOUT_MS: process.env.DATABASE_STATEMENT_TIMEOUT_MS,
    CLERK_SECRET_KEY: process.env.CLERK_SECRET_KEY,
    CLERK_API_URL: process.env.CLERK_API_URL,
    CLERK_JWT_KEY: process.env.CLERK_JWT_KEY,
    CLERK_WEBHOOK_SIGNING_SECRET: process.env.CLERK_WEBHOOK_SIGNING_SECRET,
    CLERK_INSTANCE_ID: process.env.CLERK_INSTANCE_ID,
    USER_SYNC_WEBHOOK_RETENTION_DAYS: process.env.USER_SYNC_WEBHOOK_RETENTION_DAYS,
    APP_URL: process.env.APP_URL,
    USER_SYNC_COOLDOWN_SECONDS: process.env.USER_SYNC_COOLDOWN_SECONDS,
    USER_SYNC_CLERK_TIMEOUT_MS: process.env.USER_SYNC_CLERK_TIMEOUT_MS,
    ADMIN_API_KEY: process.env.ADMIN_API_KEY,
    ADMIN_API_KEY_PREVIOUS: process.env.ADMIN_API_KEY_PREVIOUS,
    USER_SYNC_CLERK_REQUESTS_PER_10S: process.env.USER_SYNC_CLERK_REQUESTS_PER_10S,
    USER_SYNC_RECONCILE_BUDGET_SHARE: process.env.USER_SYNC_RECONCILE_BUDGET_SHARE,
    USER_SYNC_RECONCILE_MAX_DELETIONS: process.env.USER_SYNC_RECONCILE_MAX_DELETIONS,
    USER_SYNC_RECONCILE_LEASE_SECONDS: process.env.USER_SYNC_RECONCILE_LEASE_SECONDS,
    USER_SYNC_CLERK_COUNT_CACHE_SECONDS: process.env.USER_SYNC_CLERK_COUNT_CACHE_SECONDS,
    USER_SYNC_ADMIN_ROLE_CACHE_SECONDS: process.env.USER_SYNC_ADMIN_ROLE_CACHE_SECONDS,
    BENCH_FRAMEWORK_FLOOR: process.env.BENCH_FRAMEWORK_FLOOR,
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: process.env.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY,
  },
  // In production the embedded database silently loses data on ephemeral disks and splits it
  // per replica, so it has to be asked for by name.
  createFinalSchema: (shape, isServer) =>
    z.object(shape).superRefine((values, ctx) => {
      if (isServer && values.NODE_ENV === "production" && !values.DATABASE_URL && !values.ALLOW_EMBEDDED_DATABASE) {
        ctx.addIssue({
          code: "custom",
          path: ["DATABASE_URL"],
          message:
            "DATABASE_URL is required when NODE_ENV=production: the embedded PGlite database is for development and demos. Set DATABASE_URL to your PostgreSQL server, or ALLOW_EMBEDDED_DATABASE=true to run on PGlite anyway.",
        });
      }
    }),
  skipValidation: !!process.env.SKIP_ENV_VALIDATION,
  emptyStringAsUndefined: true,
});
