import type { ClerkBackendApiOptions } from "../clerk/backend-api";
import type { ClerkBudget } from "../clerk/budget";
import type { UserSyncDatabase } from "../database";
import type { UserSyncEvent } from "../events";
import type { ReconcileMode, UsersTable, UserSyncTables } from "../schema";
import type { ReconcileProgress } from "./report";

/** One reconciliation run's options: the host's parts, the request's choices, and the run's bounds. */
export type ReconcileOptions = {
  db: UserSyncDatabase;
  /** The host's users table, built with `userSyncColumns()`. */
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: UserSyncTables;
  /** Clerk's Backend API: the instance's secret key and its URL (the plugin's own client). */
  clerk: ClerkBackendApiOptions;
  /** The Backend API budget shared with live `user.sync` calls. */
  budget: ClerkBudget;
  /**
   * The app's Clerk instance id (`CLERK_INSTANCE_ID`, `ins_…`). Unset: the signing key of the
   * sessions `user.sync` verified most recently. Neither: every run is refused (`CLERK_INSTANCE_UNPROVEN`).
   */
  instanceId?: string;
  /** Default true: report, write no user rows. */
  dryRun?: boolean;
  /** Default "full". */
  mode?: ReconcileMode;
  /** Users per list page, 1–500 (Clerk's maximum, 500, by default; anything else is clamped). */
  pageSize?: number;
  /** Deletion candidates per confirmation call (Clerk's `user_id` filter takes at most 100). */
  confirmBatchSize?: number;
  /** How many changes the report lists (default 1000). */
  maxChanges?: number;
  /** Incremental runs re-read users updated this long before the previous run started (default 5 min). */
  incrementalOverlapMs?: number;
  /** Incremental runs stop (refused `INCREMENTAL_TOO_DEEP`: run full mode) rather than ask for an offset this deep (default 5000). */
  incrementalMaxDepth?: number;
  /** An unfinished full apply run checkpointed longer ago than this is not resumed (default 24 h). */
  resumeWithinMs?: number;
  /** Finished runs older than this are deleted when a run starts (default 30 days). */
  retentionMs?: number;
  /**
   * The most tombstones an apply run may write (`USER_SYNC_RECONCILE_MAX_DELETIONS`). Default:
   * more than 10 and more than 2% of the live rows is refused. Over it: `MASS_DELETION_REFUSED`.
   */
  maxDeletions?: number;
  /** This run may write every confirmed tombstone, whatever the guard says (`force=true`). */
  force?: boolean;
  /** This run may write up to this many tombstones (an admin confirmed that many), or the guard's limit if higher. */
  allowDeletionsUpTo?: number;
  /** A lease lasts this long after its last renewal (default 60 s): a stopped run is taken over after it. */
  leaseSeconds?: number;
  /** Rows of the mirror per statement of the deletion check (default 10,000). */
  deletionCheckWindowRows?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ReconcileProgress) => void;
  /** One event per write attempt (`source: "reconcile"`). */
  onEvent?: (event: UserSyncEvent) => void;
  /** Bound on one Backend API request (default 30 s): it is aborted and sent again. */
  clerkTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
};

/**
 * What one request asks for: the admin API's `?dry_run=…&mode=…&force=…`, the CLI's flags, the
 * console's buttons (which confirm a refused mass deletion with `allowDeletionsUpTo`).
 */
export type ReconcileRequest = { dryRun: boolean; mode: ReconcileMode; force?: boolean; allowDeletionsUpTo?: number } & Pick<
  ReconcileOptions,
  "signal" | "onProgress"
>;
