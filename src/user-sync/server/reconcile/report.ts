import type { ReconcileChange, ReconcileMode, ReconcileRunRow } from "../schema";

export type ReconcileCounts = { missing: number; stale: number; deleted: number; unchanged: number };

export type ReconcileReport = {
  runId: string;
  dryRun: boolean;
  mode: ReconcileMode;
  /** `refused`: a guard stopped the run (the error that carries this report says which). */
  status: "succeeded" | "refused";
  /** Dry run: what differs. Apply: what this run wrote (a row a concurrent writer already fixed counts as unchanged). */
  counts: ReconcileCounts;
  /** Per user: the kind of drift and the mirrored fields that differ, never their values. Capped. */
  changes: ReconcileChange[];
  /** More changes were found than `changes` holds. */
  truncated: boolean;
  /** Live rows Clerk conclusively said are gone (an apply run tombstones them unless the guard refuses). */
  wouldDelete: number;
  /** The most tombstones the run may write (`USER_SYNC_RECONCILE_MAX_DELETIONS`, or the default guard); null before the deletion check. */
  deletionLimit: number | null;
  /** Live rows not in Clerk's list whose deletion Clerk did not confirm conclusively: left alone, checked again next run. */
  unconfirmed: number;
  /** Live mirror rows the deletion check went through. */
  liveRows: number;
  /** The app's Clerk instance key the Backend API's JWKS proved for this run. */
  instanceKeyId: string | null;
  /** Backend API requests of the run (all attempts), JWKS included. */
  clerkRequests: number;
  /** This process's share of the run. */
  durationMs: number;
  /** Users Clerk listed that did not have the shape of a user: neither written nor tombstoned. */
  malformed: number;
  /** True when this call continued a run a previous process did not finish. */
  resumed: boolean;
  /**
   * This process: time in the database, waiting for Clerk (budget waits included), and the
   * longest single database call (one statement, its round trip included).
   */
  timings: { databaseMs: number; clerkMs: number; longestDatabaseCallMs: number };
};

export type ReconcileProgress = {
  runId: string;
  phase: "walk" | "confirm" | "tombstone";
  /** Distinct users walked so far (all attempts of the run). */
  walked: number;
  /** Clerk's user count when the walk started (or resumed). */
  clerkTotal: number | null;
  /** Live mirror rows the deletion check went through so far. */
  liveRows: number;
  counts: ReconcileCounts;
  wouldDelete: number;
  unconfirmed: number;
  clerkRequests: number;
};

export const countsOf = (row: Pick<ReconcileRunRow, "missing" | "stale" | "deleted" | "unchanged">): ReconcileCounts => ({
  missing: row.missing,
  stale: row.stale,
  deleted: row.deleted,
  unchanged: row.unchanged,
});
