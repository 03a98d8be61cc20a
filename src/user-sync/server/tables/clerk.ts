import { boolean, doublePrecision, jsonb, text, timestamp, type PgTableFn } from "drizzle-orm/pg-core";

/** The tables of calls to Clerk, shared by every app instance: session keys seen, the Backend API budget, the cooldown, the cache, the per-user edit limit. */
export function clerkTables<TSchema extends string | undefined>(table: PgTableFn<TSchema>) {
  return {
    /**
     * The signing key ids (`kid`) of session tokens this app verified (recorded by `user.sync`,
     * once per process and key): its own Clerk instance's keys (on Clerk the `kid` is the instance
     * id). When `CLERK_INSTANCE_ID` is not set, reconciliation proves the Backend API is this
     * instance by finding the most recently seen one in its JWKS.
     */
    userSyncClerkSessionKeys: table("user_sync_clerk_session_keys", {
      keyId: text("key_id").primaryKey(),
      firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().defaultNow(),
      lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    }),

    /**
     * The one Clerk Backend API budget every app instance draws from (see clerk/budget.ts): one
     * row per budget, updated by a single atomic statement per decision. Times are milliseconds
     * on the database's clock, so instances with skewed clocks agree.
     */
    userSyncClerkBudget: table("user_sync_clerk_budget", {
      name: text("name").primaryKey(),
      /** GCRA's theoretical arrival time of the next request, all kinds together. */
      tatMs: doublePrecision("tat_ms").notNull(),
      /** The same for reconciliation alone: it caps reconciliation at its share. */
      reconcileTatMs: doublePrecision("reconcile_tat_ms").notNull(),
      /** Clerk answered 429: nobody calls before this. */
      pausedUntilMs: doublePrecision("paused_until_ms").notNull(),
      /** The decision of the last statement, read back with RETURNING. */
      lastGranted: boolean("last_granted").notNull().default(false),
      lastWaitMs: doublePrecision("last_wait_ms").notNull().default(0),
    }),

    /**
     * `user.sync`'s cooldown, shared by every app instance: when each user was last claimed for a
     * fetch from Clerk's Backend API (database clock). A sync claims the fetch with one
     * `INSERT … ON CONFLICT DO UPDATE … WHERE fetched_at <= now() - cooldown`; a refused claim is
     * answered from the database. Kept off the `users` row so an identical re-sync makes no new row
     * version there.
     */
    userSyncClerkFetches: table("user_sync_clerk_fetches", {
      userId: text("user_id").primaryKey(),
      fetchedAt: timestamp("fetched_at", { withTimezone: true }).notNull(),
    }),

    /**
     * What the plugin read from Clerk's Backend API and shares between app instances for a short
     * period (see clerk/cache.ts): a user's admin role (`admin:<user id>`), Clerk's user count
     * (`user_count`). `claimed_until` marks a read in flight on some instance, so concurrent misses
     * everywhere make one Clerk call. Times are the database's clock.
     */
    userSyncClerkCache: table("user_sync_clerk_cache", {
      key: text("key").primaryKey(),
      /** The value read; null until the first read succeeded. */
      value: jsonb("value"),
      /** When `value` was read from Clerk. */
      readAt: timestamp("read_at", { withTimezone: true }),
      /** An instance is reading this key from Clerk until then (or it failed and others wait until then). */
      claimedUntil: timestamp("claimed_until", { withTimezone: true }),
    }),

    /**
     * Clerk's own per-user limit on user updates (10 per 10 s), kept for every app instance: the
     * times (ms, database clock) of a user's last profile edits sent to Clerk, and the end of a
     * `Retry-After` Clerk gave for that user. An edit takes a slot here before a shared budget grant.
     */
    userSyncClerkUserLimits: table("user_sync_clerk_user_limits", {
      userId: text("user_id").primaryKey(),
      // No column default: drizzle-kit's push sees an array default as changed on every run.
      grantedAtMs: doublePrecision("granted_at_ms").array().notNull(),
      /** Clerk answered 429 for this user: none of their edits goes out before this. */
      pausedUntilMs: doublePrecision("paused_until_ms").notNull().default(0),
      /** The decision of the last statement, read back with RETURNING. */
      lastGranted: boolean("last_granted").notNull().default(false),
      lastWaitMs: doublePrecision("last_wait_ms").notNull().default(0),
    }),
  };
}
