import type { UserSyncDatabase } from "../database";
import type { ReconcileReport } from "./report";
import type { ReconcileOptions, ReconcileRequest } from "./options";
import { runReconcile } from "./run";

export { ReconcileClerkError, ReconcileLeaseLostError, ReconcileLockedError, ReconcileRefusedError, type ReconcileRefusalCode } from "./errors";
export { createSessionKeyRecorder, type ExpectedInstance } from "./instance-proof";
export { defaultLeaseSeconds, readLease } from "./lease";
export type { ReconcileCounts, ReconcileProgress, ReconcileReport } from "./report";
export type { ReconcileOptions, ReconcileRequest } from "./options";
export { runReconcile, type ReconcileMode } from "./run";
export { defaultIncrementalMaxDepth, maxPageSize } from "./walk";
export { lastReconcileRun, readReconcileRun, type LastReconcileRun, type ReconcileRunView } from "./runs";
export type { ReconcileChange } from "../schema";

/**
 * `runReconcile` bound to the host's database, users table, Clerk key and budget: the function
 * the admin API, the console and the CLI call per request. A second request while a run holds
 * the lease rejects with `ReconcileLockedError` (409).
 */
export function createReconciler(
  options: Omit<ReconcileOptions, "db" | "dryRun" | "mode" | "force" | "allowDeletionsUpTo" | "signal" | "onProgress"> & {
    db: () => Promise<UserSyncDatabase>;
  },
) {
  return async (request: ReconcileRequest): Promise<ReconcileReport> => runReconcile({ ...options, ...request, db: await options.db() });
}
