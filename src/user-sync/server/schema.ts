import { getTableColumns, getTableName, sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, type PgColumn, type PgTable, type PgTableFn } from "drizzle-orm/pg-core";

import type { TombstoneOrigin, WriteOutcome } from "./outcomes";

/**
 * The columns user sync owns. The host spreads them into its own `users` table and adds
 * its app-owned columns beside them (sync never writes those):
 *
 *   export const users = pgTable("users", { ...userSyncColumns(), tier: ... });
 */
export function userSyncColumns() {
  return {
    /** Clerk's user id (`user_…`). */
    id: text("id").primaryKey(),
    email: text("email"),
    /** The primary phone number (E.164), for users who have one (phone-only users have no email). */
    phoneNumber: text("phone_number"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    username: text("username"),
    imageUrl: text("image_url"),
    /** Clerk's `banned`: Clerk revoked the user's sessions and refuses sign-in. A host may refuse access on it. */
    banned: boolean("banned").notNull().default(false),
    /**
     * Clerk's `locked` (too many failed sign-ins): Clerk refuses new sign-ins until the lockout
     * expires but keeps existing sessions, so a host that must stop a locked user checks this.
     */
    locked: boolean("locked").notNull().default(false),
    /** Clerk's own clock for this user, in milliseconds: its `updated_at`, or a deletion's event time. */
    clerkUpdatedAt: bigint("clerk_updated_at", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** When a mirrored value last changed (a clock-only write, `touched`, leaves it alone). */
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** When the write path last wrote this row, and what that write was. */
    lastSyncedAt: timestamp("last_synced_at", { withTimezone: true }),
    lastSyncOutcome: text("last_sync_outcome").$type<WriteOutcome>(),
    /**
     * When a write that a fetch from Clerk's Backend API made (`user.sync`, reconciliation,
     * a profile edit) last changed this row (database clock). An identical fetch writes nothing,
     * so it is not the cooldown's state: that is `user_sync_clerk_fetches`.
     */
    clerkFetchedAt: timestamp("clerk_fetched_at", { withTimezone: true }),
    /** Tombstone: the user was deleted in Clerk. */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /**
     * Who wrote the tombstone. `webhook` (Clerk's own `user.deleted`) is final; a tombstone
     * from a Backend API 404 (`client-sync`, `reconcile`) is lifted if Clerk later serves the
     * user with a newer clock.
     */
    deletedBy: text("deleted_by").$type<TombstoneOrigin>(),
  };
}

export type UserSyncColumns = ReturnType<typeof userSyncColumns>;

/** The plugin's own view of a users table: only the columns it owns. Its type, for the write path. */
function syncedUsersTableShape() {
  return pgTable("users", userSyncColumns());
}

export type SyncedUsersTable = ReturnType<typeof syncedUsersTableShape>;
export type SyncedUserRow = SyncedUsersTable["$inferSelect"];

/** A host table that holds the plugin's columns, whatever else it holds and in whichever schema. */
export type UsersTable = PgTable & { [K in keyof UserSyncColumns]: PgColumn };

/**
 * The host's own table object, typed as the plugin's columns. Queries keep the host's table,
 * so a schema-qualified table (`pgSchema("app").table(...)`) is read and written where it
 * lives, and RETURNING yields the host's full row.
 */
export function syncedTableOf(users: UsersTable): SyncedUsersTable {
  const columns: Record<string, PgColumn | undefined> = getTableColumns(users);
  const expected = getTableColumns(syncedUsersTableShape());
  const missing = Object.entries(expected)
    .filter(([key, column]) => columns[key]?.name !== column.name)
    .map(([key]) => key);
  if (missing.length > 0) {
    throw new Error(
      `User sync: table "${getTableName(users)}" lacks the columns of userSyncColumns() (${missing.join(", ")}); spread them into it and migrate`,
    );
  }
  return users as unknown as SyncedUsersTable;
}

/**
 * What became of one webhook delivery: a write-path outcome; `diverged`, a payload with the
 * row's Clerk clock but other values that no fetch from Clerk settled; or `dead_letter`, a signed
 * payload it could not use.
 */
export type WebhookInboxOutcome = WriteOutcome | "diverged" | "dead_letter";

export type ReconcileMode = "full" | "incremental";
export type ReconcileChangeKind = "missing" | "stale" | "deleted";
/** One user reconciliation found out of step with Clerk, and which mirrored fields differ (never their values). */
export type ReconcileChange = { userId: string; kind: ReconcileChangeKind; fields: string[] };
/**
 * `running` until it ends; a run whose process stopped stays `running` after its lease expired
 * (shown as interrupted) and is resumed by the next full apply run. `abandoned`: superseded before
 * it finished. `refused`: a guard stopped it and it is never resumed (`errorCode` says which: the
 * Clerk instance was not proven, a mass deletion, an incremental walk past its depth).
 */
export type ReconcileRunStatus = "running" | "succeeded" | "failed" | "abandoned" | "refused";
/** walk Clerk's list → confirm the mirror's live rows not walked → tombstone the confirmed ones → done. */
export type ReconcilePhase = "walk" | "confirm" | "tombstone" | "done";
/** What a run knows of one user id: listed by Clerk (or confirmed alive), confirmed gone, or not confirmed either way. */
export type ReconcileSeenState = "walked" | "gone" | "unconfirmed";

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
  // The final name a base name gets (prefix, pgTableCreator's naming): for index and key names.
  const finalName = (base: string) => getTableName(table(base, { probe: text("probe") }));
  return {
    /**
     * One row per Clerk (Svix) message id, written in the same statement as the message's
     * effect, so a redelivered message is applied once and a failed one leaves no row. Dead
     * letters are signed payloads that can never apply (kept, acknowledged, not retried) until an
     * operator clears them; processed rows are pruned after the retention window.
     */
    clerkWebhookEvents: table(
      "clerk_webhook_events",
      {
        /** `svix-id`: the same on every redelivery of one message. */
        svixId: text("svix_id").primaryKey(),
        eventType: text("event_type"),
        clerkUserId: text("clerk_user_id"),
        /** The envelope's `timestamp` (when the event happened in Clerk, ms); null when it had none. */
        eventTimestampMs: bigint("event_timestamp_ms", { mode: "number" }),
        outcome: text("outcome").$type<WebhookInboxOutcome>().notNull(),
        /** Why a dead letter could not apply: a reason code and schema issue paths, never values. */
        deadLetterReason: text("dead_letter_reason"),
        receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
        /** When the effect committed. Null for dead letters: they were acknowledged, not processed. */
        processedAt: timestamp("processed_at", { withTimezone: true }),
      },
      (t) => [
        // Retention prunes processed rows by age in batches; dead letters are kept, so not indexed.
        index(`${finalName("clerk_webhook_events")}_prunable_idx`).on(t.receivedAt).where(sql`${t.outcome} <> 'dead_letter'`),
      ],
    ),

    /**
     * One reconciliation run and its checkpoint: where the walk of Clerk's user list got to, how
     * far the deletion check went through the mirror and which tombstones were written, committed
     * with each batch's writes so a killed run continues where it stopped.
     */
    userSyncReconcileRuns: table(
      "user_sync_reconcile_runs",
      {
        id: text("id").primaryKey(),
        mode: text("mode").$type<ReconcileMode>().notNull(),
        dryRun: boolean("dry_run").notNull(),
        status: text("status").$type<ReconcileRunStatus>().notNull(),
        phase: text("phase").$type<ReconcilePhase>().notNull().default("walk"),
        /** Incremental mode: offset of the next page of Clerk's `-updated_at` list. */
        walkOffset: integer("walk_offset").notNull().default(0),
        /** Full mode: the `starting_after` cursor, the last user walked in `+created_at` order … */
        walkCursor: text("walk_cursor"),
        /** … and its `created_at` (ms), to find the place again if that user is deleted meanwhile. */
        walkCursorCreatedAtMs: bigint("walk_cursor_created_at_ms", { mode: "number" }),
        /** The deletion check walks the mirror in id order: the last id it finished. */
        confirmCursor: text("confirm_cursor"),
        /** The tombstones are written in id order: the last id written. */
        tombstoneCursor: text("tombstone_cursor"),
        /** Incremental runs stop at users Clerk last updated before this (previous run's mark minus the overlap). */
        stopAtMs: bigint("stop_at_ms", { mode: "number" }),
        /** When this run started reading Clerk: the next incremental run's high-water mark once this one succeeds. */
        highWaterMarkMs: bigint("high_water_mark_ms", { mode: "number" }).notNull(),
        /** Clerk's user count when the walk started, for progress. */
        clerkTotal: integer("clerk_total"),
        walked: integer("walked").notNull().default(0),
        missing: integer("missing").notNull().default(0),
        stale: integer("stale").notNull().default(0),
        deleted: integer("deleted").notNull().default(0),
        unchanged: integer("unchanged").notNull().default(0),
        /** Users Clerk listed whose data did not have the shape of a user: neither written nor tombstoned. */
        malformed: integer("malformed").notNull().default(0),
        /** Live mirror rows the deletion check went through (the base of the mass-deletion limit). */
        liveRows: integer("live_rows").notNull().default(0),
        /** Live rows Clerk conclusively said are gone: what the run tombstones, unless refused. */
        wouldDelete: integer("would_delete").notNull().default(0),
        /** Live rows not walked whose deletion Clerk did not confirm conclusively: left alone, checked again next run. */
        unconfirmed: integer("unconfirmed").notNull().default(0),
        /** The most tombstones this run may write (the mass-deletion guard), set when the deletion check ends. */
        deletionLimit: integer("deletion_limit"),
        /** An allowance given for this run (the count an admin confirmed; 2147483647: `force`); null: the default guard. */
        maxDeletions: integer("max_deletions"),
        /** The session-signing key id of the app's Clerk instance that the Backend API's JWKS proved for this run. */
        instanceKeyId: text("instance_key_id"),
        clerkRequests: integer("clerk_requests").notNull().default(0),
        /** The first changes found (capped); `truncated` says more were found. User ids and field names only. */
        changes: jsonb("changes").$type<ReconcileChange[]>().notNull().default([]),
        truncated: boolean("truncated").notNull().default(false),
        /** How many processes worked on this run (more than 1 after a resume). */
        attempts: integer("attempts").notNull().default(1),
        errorCode: text("error_code"),
        startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
        /** Last checkpoint. */
        updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
        finishedAt: timestamp("finished_at", { withTimezone: true }),
      },
      (t) => [index(`${finalName("user_sync_reconcile_runs")}_finished_idx`).on(t.status, t.finishedAt)],
    ),

    /**
     * The Clerk user ids a run has walked, in PostgreSQL so memory stays flat and a resumed run
     * still knows them. Live mirror rows absent here after the walk are deletion candidates: each
     * is recorded here again with what Clerk said of it (`gone` only on a conclusive answer), and
     * only `gone` ones are tombstoned. Emptied in batches when the run ends.
     */
    userSyncReconcileSeen: table(
      "user_sync_reconcile_seen",
      {
        runId: text("run_id").notNull(),
        userId: text("user_id").notNull(),
        state: text("state").$type<ReconcileSeenState>().notNull().default("walked"),
      },
      (t) => [
        primaryKey({ name: `${finalName("user_sync_reconcile_seen")}_run_id_user_id_pk`, columns: [t.runId, t.userId] }),
        // The few ids the deletion check decided (gone, unconfirmed): the tombstone batches read these only.
        index(`${finalName("user_sync_reconcile_seen")}_decided_idx`).on(t.runId, t.userId).where(sql`${t.state} <> 'walked'`),
      ],
    ),

    /**
     * Reconciliation's single flight across app instances: one lease row, taken and renewed by
     * single statements on the database's clock (no open transaction, no session state, so it
     * works on a pool of one connection, through transaction poolers and over HTTP drivers). A
     * holder that stops renewing loses it when `expires_at` passes; every write of a run checks
     * in the same statement that its holder still holds it.
     */
    userSyncReconcileLease: table("user_sync_reconcile_lease", {
      name: text("name").primaryKey(),
      /** A random id per run attempt (one process working on one run). */
      holder: text("holder").notNull(),
      /** The run the holder works on, once its row exists. */
      runId: text("run_id"),
      acquiredAt: timestamp("acquired_at", { withTimezone: true }).notNull(),
      heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }).notNull(),
      expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    }),

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

    /**
     * Configuration problems any instance saw at run time (a Backend API of another Clerk instance,
     * a rejected secret key), one row per code, shown by every instance's health view until a later
     * successful proof clears it. Messages name settings, never values.
     */
    userSyncConfigProblems: table("user_sync_config_problems", {
      code: text("code").primaryKey(),
      message: text("message").notNull(),
      firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull(),
      lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull(),
    }),

    /**
     * Persisted write telemetry: counts of write attempts per minute, source, outcome, whether
     * Clerk was called and error code. No user data. Pruned after the retention period.
     */
    userSyncWriteStats: table(
      "user_sync_write_stats",
      {
        bucketStart: timestamp("bucket_start", { withTimezone: true }).notNull(),
        source: text("source").notNull(),
        outcome: text("outcome").notNull(),
        clerkFetched: boolean("clerk_fetched").notNull(),
        /** Empty when the attempt did not fail (a primary key column cannot be null). */
        errorCode: text("error_code").notNull().default(""),
        count: bigint("count", { mode: "number" }).notNull(),
        durationMsTotal: bigint("duration_ms_total", { mode: "number" }).notNull(),
        durationMsMax: integer("duration_ms_max").notNull(),
      },
      (t) => [primaryKey({ name: `${finalName("user_sync_write_stats")}_pk`, columns: [t.bucketStart, t.source, t.outcome, t.clerkFetched, t.errorCode] })],
    ),
  };
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
