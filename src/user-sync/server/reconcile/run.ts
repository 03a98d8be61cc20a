/**
 * Reconciliation: repairs the mirror from Clerk's user list, for the users the client sync
 * cannot heal (never signed in, deleted while signed out with the webhook lost, a database
 * restored from backup). One implementation behind the admin API, the console and the CLI; the
 * most careful writer of the product:
 *
 * 1. A lease, not a held connection (lease.ts; the attempt holding it, attempt.ts): one run at a time across instances, a frozen or
 *    killed holder is taken over when its lease expires, and every write is fenced by it.
 * 2. Proof of instance, fresh each run, before anything is written (instance-proof.ts): the
 *    Backend API's JWKS must hold the app's own instance key, else the run is refused as a whole.
 * 3. Full mode (walk.ts) walks Clerk's list with the `starting_after` cursor in `+created_at` order (never a
 *    deep offset): the checkpoint is the cursor, deletions cannot shift it, users created during
 *    the walk come at its end. A cursor Clerk refuses (its user deleted meanwhile), or a short
 *    page, is checked again from the cursor's `created_at`.
 * 4. Each batch is one statement (page-write.ts): its ids recorded as seen, compared with their
 *    mirror rows, repaired by one multi-row upsert with the write path's guards, and the run's
 *    counts and checkpoint moved. A killed run continues where it stopped.
 * 5. Deletions (confirm-deletions.ts): after the walk, the mirror is gone through in bounded id windows; its live rows
 *    not walked are asked of Clerk by `user_id` (100 per call) with Clerk's count for the same
 *    filter. Only a conclusive answer (the page's length is Clerk's count, or a 404
 *    `resource_not_found` for that id) counts as gone; anything else is "unconfirmed": reported,
 *    never tombstoned, asked again next run.
 * 6. The mass-deletion guard: an apply run that would tombstone more than its limit (default:
 *    more than 10 users and more than 2% of live rows) writes no tombstone and is refused, unless
 *    forced.
 * 7. Incremental mode walks `-updated_at` by offset, with overlapping pages whose continuity is
 *    checked (a deletion shifting the list makes it read again, never skip), never deeper than
 *    its depth: past it the run stops and says to run full mode.
 * 8. Every statement touches a bounded number of rows; memory stays flat (one page at a time,
 *    the seen set in PostgreSQL, the diff list capped); every Clerk call draws from the budget.
 */
import { defaultUserSyncTables, type ReconcileMode, type ReconcilePhase, type UserSyncTables } from "../schema";
import { ReconcileAttempt } from "./attempt";
import { databaseTimer, type DatabaseTimer } from "./timer";
import { createReconcileClerk } from "./clerk-calls";
import { confirmDeletions, writeTombstones } from "./confirm-deletions";
import { ReconcileClerkError, ReconcileLeaseLostError, ReconcileRefusedError } from "./errors";
import { takeLease, type ReconcileLease } from "./lease";
import type { ReconcileOptions } from "./options";
import type { ReconcileProgress, ReconcileReport } from "./report";
import { walkFull, walkIncremental } from "./walk";

/**
 * Runs one reconciliation (or resumes the unfinished full apply run). Throws
 * `ReconcileLockedError` when another run holds the lease, `ReconcileRefusedError` when a guard
 * refuses it (instance not proven, mass deletion, incremental too deep), `ReconcileClerkError`
 * when Clerk keeps failing and `ReconcileLeaseLostError` when this run lost its lease; a failure
 * leaves the checkpoint for the next run.
 */
export async function runReconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const tables = options.tables ?? defaultUserSyncTables;
  const timer = databaseTimer();
  const lease = await takeLease(options.db, tables.userSyncReconcileLease, { leaseSeconds: options.leaseSeconds, onDatabaseCall: timer.timed });
  try {
    return await reconcileHoldingLease(options, tables, lease, timer);
  } finally {
    await lease.release();
  }
}

/** The run's phases in order, each resumable from the run row's checkpoint. */
async function reconcileHoldingLease(options: ReconcileOptions, tables: UserSyncTables, lease: ReconcileLease, timer: DatabaseTimer): Promise<ReconcileReport> {
  const clerk = createReconcileClerk({
    clerk: options.clerk,
    budget: options.budget,
    timeoutMs: options.clerkTimeoutMs,
    signal: options.signal,
    check: () => lease.check(),
  });
  const attempt = new ReconcileAttempt(options, tables, lease, clerk, timer);
  await attempt.startOrResume();
  try {
    attempt.progress(phaseOf(attempt.run.phase));
    await attempt.proveInstance();
    if (attempt.run.phase === "walk") await (attempt.run.mode === "incremental" ? walkIncremental(attempt) : walkFull(attempt));
    if (attempt.run.phase === "confirm") await confirmDeletions(attempt);
    if (attempt.run.phase === "tombstone") await writeTombstones(attempt);
    await attempt.finish("succeeded", null);
    return attempt.report("succeeded");
  } catch (error) {
    if (error instanceof ReconcileRefusedError || error instanceof ReconcileLeaseLostError || lease.lost) throw error;
    const errorCode = options.signal?.aborted ? "ABORTED" : error instanceof ReconcileClerkError ? error.code : "FAILED";
    try {
      await attempt.fail(errorCode);
    } catch {
      // The run stays `running` without a lease: shown as interrupted, resumed or abandoned by the next run.
    }
    throw error;
  }
}

function phaseOf(phase: ReconcilePhase): ReconcileProgress["phase"] {
  return phase === "done" || phase === "walk" ? "walk" : phase;
}

export type { ReconcileMode };
