import type { ReconcileReport } from "./report";

/** Another reconciliation run holds the lease (on this or another app instance). */
export class ReconcileLockedError extends Error {
  readonly code = "RECONCILE_LOCKED";
  constructor(readonly runningRunId: string | null) {
    super(runningRunId ? `Another reconciliation run (${runningRunId}) is in progress` : "Another reconciliation run is in progress");
    this.name = "ReconcileLockedError";
  }
}

/**
 * This run's lease expired (its process was frozen or cut off from the database longer than the
 * lease) and another run may have taken over: it stopped without writing anything more.
 */
export class ReconcileLeaseLostError extends Error {
  readonly code = "RECONCILE_LEASE_LOST";
  constructor() {
    super("The reconciliation run lost its lease (it did not renew it in time); another run may have taken over");
    this.name = "ReconcileLeaseLostError";
  }
}

/** Clerk failed a request the run needed (after retries); the checkpoint is kept for the next run. */
export class ReconcileClerkError extends Error {
  constructor(
    /** `CLERK_UNAVAILABLE` (5xx, 504 `request_timeout`, network), `CLERK_TIMEOUT`, `CLERK_KEY_REJECTED`, `CLERK_MALFORMED`, `CLERK_RATE_LIMITED`. */
    readonly code: string,
    /** What failed: a status or a Clerk error code, never a body or a key. */
    reason: string,
  ) {
    super(`Clerk's Backend API failed during reconciliation: ${reason}`);
    this.name = "ReconcileClerkError";
  }
}

/**
 * Why a guard refused a run:
 * - `CLERK_INSTANCE_MISMATCH`: the Backend API's JWKS lack the app's Clerk instance key
 *   (`CLERK_SECRET_KEY` or `CLERK_API_URL` of another instance): nothing was written.
 * - `CLERK_INSTANCE_UNPROVEN`: the app does not know its instance yet (no `CLERK_INSTANCE_ID`, no
 *   session verified yet): nothing was written.
 * - `MASS_DELETION_REFUSED`: creates and updates were applied, no tombstone was written.
 * - `INCREMENTAL_TOO_DEEP`: an incremental walk reached its depth; what it read was applied; run full mode.
 */
export type ReconcileRefusalCode = "CLERK_INSTANCE_MISMATCH" | "CLERK_INSTANCE_UNPROVEN" | "MASS_DELETION_REFUSED" | "INCREMENTAL_TOO_DEEP";

/** A guard refused the run (see `ReconcileRefusalCode`); `report` is the run as it stopped. */
export class ReconcileRefusedError extends Error {
  constructor(
    readonly code: ReconcileRefusalCode,
    message: string,
    readonly report: ReconcileReport,
  ) {
    super(message);
    this.name = "ReconcileRefusedError";
  }
}
