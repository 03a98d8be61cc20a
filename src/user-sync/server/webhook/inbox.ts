/**
 * Upkeep of `clerk_webhook_events`, the webhook inbox: retention for processed rows, and the
 * operator's way to clear dead letters.
 *
 * The inbox only has to remember a `svix-id` for as long as Svix may redeliver it (its retries
 * span about 28 h; a replay from the dashboard can come later, and the write path makes a
 * re-applied event harmless anyway), so processed rows older than the retention window go.
 * Dead letters stay until an operator clears them: they are the record of what was not applied.
 */
import { and, eq, inArray, lt, sql, type SQL } from "drizzle-orm";

import { rowsOf } from "../clerk/budget";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";
import type { UserSyncDatabase } from "../write-path";

type Inbox = UserSyncTables["clerkWebhookEvents"];

/** What one call of `pruneInbox` did. */
export type InboxPruneResult = {
  deletedRows: number;
  /** DELETE statements run, each in its own short transaction. */
  batches: number;
  /** True when it stopped at `maxBatches` with rows still due. */
  moreRemaining: boolean;
  /** True when another instance was pruning at that moment, so this call did nothing. */
  otherPrunerActive: boolean;
};

export type InboxPruneOptions = {
  /** Processed rows received longer ago than this are deleted. */
  retentionDays: number;
  /** Rows per DELETE statement (default 1000). */
  batchSize?: number;
  /** Statements per call (default 100): bounds one call's work. */
  maxBatches?: number;
  /** The inbox table (the host's `userSyncTables()`); default the plugin's own name. */
  table?: Inbox;
};

/** Which dead letters `clearDeadLetters` removes. */
export type DeadLetterSelection = { svixIds: string[] } | { receivedBefore: Date } | { all: true };

export const defaultInboxRetentionDays = 30;
export const defaultInboxPruneBatchSize = 1000;
export const defaultInboxPruneMaxBatches = 100;

/**
 * The transaction-scoped advisory lock that makes one instance at a time the pruner. Any
 * fixed 64-bit number works; this one spells "usrsync" in ASCII.
 */
export const inboxPruneLockKey = "32497756542938979";

/**
 * Deletes processed inbox rows older than the retention window in bounded batches. Each batch is
 * ONE statement (its own transaction, so it works through a transaction pooler and on drivers
 * without interactive transactions) that takes `pg_try_advisory_xact_lock` (another instance
 * already pruning → stop, it has the work in hand) and deletes at most `batchSize` rows picked
 * with `FOR UPDATE SKIP LOCKED`. Dead letters are never pruned. The cutoff is the database's clock.
 */
export async function pruneWebhookInbox(db: UserSyncDatabase, options: InboxPruneOptions): Promise<InboxPruneResult> {
  const batchSize = options.batchSize ?? defaultInboxPruneBatchSize;
  const maxBatches = options.maxBatches ?? defaultInboxPruneMaxBatches;
  const retentionDays = Math.floor(options.retentionDays);
  if (!(retentionDays >= 1)) throw new RangeError("retentionDays must be at least 1");
  const inbox = options.table ?? defaultUserSyncTables.clerkWebhookEvents;
  const result: InboxPruneResult = { deletedRows: 0, batches: 0, moreRemaining: false, otherPrunerActive: false };
  for (;;) {
    if (result.batches >= maxBatches) {
      result.moreRemaining = true;
      return result;
    }
    // The literal 'dead_letter' (not a parameter) lets the planner use the partial index.
    const [batch] = rowsOf<{ acquired: boolean; deleted: number | string }>(
      await db.execute(sql`
        with lock as (select pg_try_advisory_xact_lock(${sql.raw(inboxPruneLockKey)}::bigint) as acquired),
        due as (
          select ${inbox.svixId} as svix_id from ${inbox}
          where ${inbox.outcome} <> 'dead_letter'
            and ${inbox.receivedAt} < now() - make_interval(days => ${retentionDays}::int)
            and (select acquired from lock)
          limit ${batchSize}::int
          for update skip locked
        ),
        gone as (delete from ${inbox} where ${inbox.svixId} in (select svix_id from due) returning 1)
        select (select acquired from lock) as acquired, (select count(*) from gone)::int as deleted`),
    );
    if (!batch?.acquired) {
      result.otherPrunerActive = true;
      return result;
    }
    const deleted = Number(batch.deleted);
    result.batches++;
    result.deletedRows += deleted;
    if (deleted < batchSize) return result;
  }
}

/**
 * Deletes dead letters (and only dead letters) by `svix-id`, by age, or all of them; returns
 * how many. Clearing one lets a replay from the Svix dashboard apply the message again.
 */
export async function clearWebhookDeadLetters(
  db: UserSyncDatabase,
  selection: DeadLetterSelection,
  clerkWebhookEvents: Inbox = defaultUserSyncTables.clerkWebhookEvents,
): Promise<number> {
  let filter: SQL | undefined;
  if ("svixIds" in selection) {
    if (selection.svixIds.length === 0) return 0;
    filter = inArray(clerkWebhookEvents.svixId, selection.svixIds);
  } else if ("receivedBefore" in selection) {
    filter = lt(clerkWebhookEvents.receivedAt, selection.receivedBefore);
  } else if (selection.all !== true) {
    throw new TypeError("clearDeadLetters needs svixIds, receivedBefore or all: true");
  }
  const deleted = await db
    .delete(clerkWebhookEvents)
    .where(and(eq(clerkWebhookEvents.outcome, "dead_letter"), filter))
    .returning({ svixId: clerkWebhookEvents.svixId });
  return deleted.length;
}
