import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, primaryKey, text, timestamp, type PgTableFn } from "drizzle-orm/pg-core";

import type { FinalName } from "./final-name";

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

/** The columns of `user_sync_reconcile_runs`: a run's settings, checkpoint, counts and outcome. */
function reconcileRunColumns() {
  return {
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
  };
}

/** Reconciliation's tables: its runs and checkpoints, the ids a run has seen, its lease. */
export function reconcileTables<TSchema extends string | undefined>(table: PgTableFn<TSchema>, finalName: FinalName) {
  return {
    /**
     * One reconciliation run and its checkpoint: where the walk of Clerk's user list got to, how
     * far the deletion check went through the mirror and which tombstones were written, committed
     * with each batch's writes so a killed run continues where it stopped.
     */
    userSyncReconcileRuns: table(
      "user_sync_reconcile_runs",
      reconcileRunColumns(),
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
  };
}
