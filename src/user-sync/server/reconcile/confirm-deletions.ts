/**
 * Deletions, after the walk: the mirror is gone through in bounded id windows; its live rows not
 * walked are asked of Clerk by `user_id` (100 per call) with Clerk's count for the same filter.
 * Only a conclusive answer (the page's length is Clerk's count, or a 404 `resource_not_found`
 * for that id) counts as gone; anything else is "unconfirmed": reported, never tombstoned, asked
 * again next run. Then the mass-deletion guard, and the tombstones in bounded batches.
 */
import { sql } from "drizzle-orm";

import type { ReconcileAttempt } from "./attempt";
import { userNotFound } from "./clerk-calls";
import { ReconcileLeaseLostError } from "./errors";
import { deletionCandidates } from "./seen-set";
import { commitTombstones } from "./tombstones";
import { idOf, parseUsers } from "./users";

/** Rows of the mirror one statement of the deletion check goes through. */
const defaultDeletionCheckWindowRows = 10_000;
const tombstoneBatchSize = 1_000;

/** Asks Clerk about live rows the walk did not see: which are there, which are conclusively gone, which are unknown. */
async function confirm(attempt: ReconcileAttempt, ids: string[]) {
  const { clerk } = attempt;
  const asked = new Set(ids);
  const [page, count] = await Promise.all([clerk.list({ user_id: ids, limit: ids.length }), clerk.count({ user_id: ids })]);
  const listed = page.filter((user) => asked.has(idOf(user) ?? ""));
  const listedIds = new Set(listed.map(idOf));
  const conclusive = listed.length === page.length && page.length === count;
  const alive: unknown[] = [...listed];
  const gone: string[] = [];
  const unconfirmed: string[] = [];
  for (const id of ids) {
    if (listedIds.has(id)) continue;
    if (conclusive) {
      gone.push(id);
      continue;
    }
    // Clerk's page and its count disagree: ask for this user alone; only a 404 for it is proof.
    try {
      const user = await clerk.getUser(id);
      if (user === userNotFound) gone.push(id);
      else alive.push(user);
    } catch (error) {
      if (error instanceof ReconcileLeaseLostError || attempt.options.signal?.aborted) throw error;
      unconfirmed.push(id);
    }
  }
  return { alive, gone, unconfirmed };
}

export async function confirmDeletions(attempt: ReconcileAttempt) {
  const windowRows = attempt.options.deletionCheckWindowRows ?? defaultDeletionCheckWindowRows;
  const confirmBatchSize = Math.min(100, Math.max(1, attempt.options.confirmBatchSize ?? 100));
  for (;;) {
    attempt.lease.check();
    const window = await attempt.timed(() =>
      deletionCandidates(attempt.db, attempt.batchTables, { runId: attempt.run.id, cursor: attempt.run.confirmCursor, windowRows }),
    );
    if (window.lastId === null) {
      await attempt.commitBatch({ parsed: parseUsers([]), checkpoint: { phase: "tombstone" } });
      return;
    }
    const batches: string[][] = [];
    for (let i = 0; i < window.candidates.length; i += confirmBatchSize) batches.push(window.candidates.slice(i, i + confirmBatchSize));
    if (!batches.length) batches.push([]);
    for (const [index, ids] of batches.entries()) {
      const answer = ids.length ? await confirm(attempt, ids) : { alive: [], gone: [], unconfirmed: [] };
      const last = index === batches.length - 1;
      await attempt.commitBatch({
        parsed: parseUsers(answer.alive),
        goneIds: answer.gone,
        unconfirmedIds: answer.unconfirmed,
        // The window's end and its live rows count once all its candidates are answered.
        checkpoint: last ? { confirmCursor: window.lastId, liveRowsAdded: window.liveRows } : {},
      });
      attempt.progress("confirm");
    }
  }
}

/**
 * The mass-deletion guard: an apply run that would tombstone more than its limit (default: more
 * than 10 users and more than 2% of live rows) writes no tombstone and is refused, unless forced.
 */
export async function writeTombstones(attempt: ReconcileAttempt) {
  const { options, lease } = attempt;
  const guard = options.maxDeletions ?? Math.max(10, Math.floor(attempt.run.liveRows * 0.02));
  const allowance = options.force ? Number.POSITIVE_INFINITY : (options.allowDeletionsUpTo ?? 0);
  await attempt.updateRun(attempt.run.id, sql`${sql.identifier(attempt.tables.userSyncReconcileRuns.deletionLimit.name)} = ${guard}::int`);
  attempt.run = { ...attempt.run, deletionLimit: guard };
  if (attempt.dryRun) return;
  if (attempt.run.wouldDelete > Math.max(guard, allowance)) {
    return attempt.refuse(
      "MASS_DELETION_REFUSED",
      `The run would tombstone ${attempt.run.wouldDelete} users, more than its limit of ${guard}: creates and updates were applied, no tombstone was written. Check Clerk, then run again with force=true (--force) to apply them.`,
    );
  }
  let cursor = attempt.run.tombstoneCursor;
  for (;;) {
    lease.check();
    const batch = await attempt.timed(() =>
      commitTombstones(attempt.db, attempt.batchTables, {
        runId: attempt.run.id,
        lease,
        cursor,
        limit: tombstoneBatchSize,
        room: Math.max(0, attempt.maxChanges - attempt.changesStored),
      }),
    );
    const listedBefore = attempt.run.deleted;
    attempt.apply(batch.run);
    attempt.changesStored = Math.min(attempt.maxChanges, attempt.changesStored + (attempt.run.deleted - listedBefore));
    for (let i = 0; i < attempt.run.deleted - listedBefore; i++) attempt.emit({ source: "reconcile", outcome: "deleted", clerkFetched: true, durationMs: 0 });
    if (batch.lastId !== null) cursor = batch.lastId;
    attempt.progress("tombstone");
    if (batch.taken < tombstoneBatchSize) return;
  }
}
