/**
 * `clerk_webhook_events`, the webhook inbox: each delivery applied once (its effect and its
 * inbox row in one statement), dead letters recorded, retention for processed rows (pruned now
 * and then after a delivery, or by a cron), and the operator's way to clear dead letters.
 *
 * The inbox only has to remember a `svix-id` for as long as Svix may redeliver it (its retries
 * span about 28 h; a replay from the dashboard can come later, and the write path makes a
 * re-applied event harmless anyway), so processed rows older than the retention window go.
 * Dead letters stay until an operator clears them: they are the record of what was not applied.
 */
import { and, eq, inArray, lt, sql, type SQL } from "drizzle-orm";

import { scheduleInBackground, type BackgroundScheduler } from "../background";
import { rowsOf, type UserSyncDatabase } from "../database";
import type { WriteOutcome } from "../outcomes";
import { defaultUserSyncTables, type SyncedUsersTable, type UserSyncTables } from "../schema";
import { pushedWriteStatement, type PushedWrite } from "../write-path";
import type { Delivery } from "./types";

export type Inbox = UserSyncTables["clerkWebhookEvents"];

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

/**
 * The effect and its inbox row in ONE statement (atomic, one round trip): the write applies
 * only if the `svix-id` is not in the inbox yet, and the inbox row records its outcome. A
 * concurrent delivery of the same message waits on the inbox key and, once the first commits,
 * records nothing: it is a duplicate, and its write was a no-op (the write path is idempotent:
 * equal clocks write nothing, a tombstone is not written again). A `diverged` payload (the
 * row's clock with other values) records nothing when a refetch can settle it (`refetchable`).
 */
export async function applyOnce(
  db: UserSyncDatabase,
  { table, inbox, refetchable }: { table: SyncedUsersTable; inbox: Inbox; refetchable: boolean },
  delivery: Delivery,
  write: PushedWrite,
): Promise<{ outcome: WriteOutcome | "diverged"; refetched: boolean } | "duplicate" | "diverged"> {
  const userId = write.kind === "upsert" ? write.user.id : write.userId;
  const known = sql`exists (select 1 from ${inbox} where ${inbox.svixId} = ${delivery.svixId}::text)`;
  const effect = pushedWriteStatement(table, write, sql`not ${known}`);
  const column = (key: keyof typeof inbox._.columns) => sql.identifier(inbox[key].name);
  const [row] = rowsOf<{ recorded: WriteOutcome | "diverged" | null; outcome: WriteOutcome | "diverged"; known: boolean }>(
    await db.execute(sql`
      with user_sync_known as (select ${known} as known),
      user_sync_write as (${effect.insert}),
      user_sync_outcome as (select coalesce((select outcome from user_sync_write), ${effect.outcomeIfNotWritten}) as outcome),
      user_sync_recorded as (
        insert into ${inbox} (${column("svixId")}, ${column("eventType")}, ${column("clerkUserId")}, ${column("eventTimestampMs")}, ${column("outcome")},
          ${column("receivedAt")}, ${column("processedAt")})
        select ${delivery.svixId}::text, ${delivery.eventType}::text, ${userId}::text, ${delivery.eventTimestampMs}::bigint,
          o.outcome, ${delivery.receivedAt.toISOString()}::timestamptz, clock_timestamp()
        from user_sync_outcome as o
        where ${refetchable ? sql`o.outcome <> 'diverged'` : sql`true`}
        on conflict (${column("svixId")}) do nothing
        returning ${column("outcome")} as outcome
      )
      select (select outcome from user_sync_recorded) as recorded, (select outcome from user_sync_outcome) as outcome,
        (select known from user_sync_known) as known`),
  );
  if (row?.recorded) return { outcome: row.recorded, refetched: false };
  if (row && !row.known && row.outcome === "diverged") return "diverged";
  return "duplicate";
}

/** Records a refetched delivery with its write's outcome; false when another copy was recorded first (a duplicate). */
export async function recordRefetched(
  db: UserSyncDatabase,
  inbox: Inbox,
  delivery: Delivery,
  userId: string,
  outcome: WriteOutcome | "diverged",
): Promise<boolean> {
  const recorded = await db
    .insert(inbox)
    .values({
      svixId: delivery.svixId,
      eventType: delivery.eventType,
      clerkUserId: userId,
      eventTimestampMs: delivery.eventTimestampMs,
      outcome,
      receivedAt: delivery.receivedAt,
      processedAt: sql`clock_timestamp()`,
    })
    .onConflictDoNothing({ target: inbox.svixId })
    .returning({ outcome: inbox.outcome });
  return recorded.length > 0;
}

/** Records a delivery that can never apply, with its (bounded, value-free) reason. */
export async function recordDeadLetter(db: UserSyncDatabase, inbox: Inbox, delivery: Delivery, reason: string): Promise<void> {
  await db
    .insert(inbox)
    .values({
      svixId: delivery.svixId,
      eventType: delivery.eventType,
      clerkUserId: delivery.clerkUserId,
      eventTimestampMs: delivery.eventTimestampMs,
      outcome: "dead_letter",
      deadLetterReason: reason,
      receivedAt: delivery.receivedAt,
    })
    .onConflictDoNothing({ target: inbox.svixId });
}

/**
 * The inbox's retention as the handler runs it: `pruneInbox` (for a cron, logging a line when it
 * deleted rows or failed) and `pruneInBackground`, at most once per `pruneIntervalMs` in this
 * process after a delivery that used the database, through the host's `schedule`.
 */
export function createInboxPruner(options: {
  db: () => Promise<UserSyncDatabase>;
  inbox: Inbox;
  retentionDays: number;
  pruneIntervalMs: number;
  schedule?: BackgroundScheduler;
  log: (entry: { level: "info" | "warn"; task: "prune_inbox"; deletedRows: number; reason?: string }) => void;
  reasonOf: (error: unknown) => string;
}) {
  let lastPruneStartedAtMs: number | null = null;

  async function pruneInbox(overrides: Partial<InboxPruneOptions> = {}): Promise<InboxPruneResult> {
    try {
      const result = await pruneWebhookInbox(await options.db(), { retentionDays: options.retentionDays, ...overrides, table: options.inbox });
      if (result.deletedRows > 0) options.log({ level: "info", task: "prune_inbox", deletedRows: result.deletedRows });
      return result;
    } catch (error) {
      // Nothing is lost when a prune fails: the rows wait for the next one.
      options.log({ level: "warn", task: "prune_inbox", deletedRows: 0, reason: options.reasonOf(error) });
      throw error;
    }
  }

  /** Starts a prune at most once per `pruneIntervalMs` in this process, without awaiting it. */
  function pruneInBackground() {
    if (options.pruneIntervalMs <= 0) return;
    const nowMs = Date.now();
    if (lastPruneStartedAtMs !== null && nowMs - lastPruneStartedAtMs < options.pruneIntervalMs) return;
    lastPruneStartedAtMs = nowMs;
    const prune = async () => {
      await pruneInbox().catch(() => undefined);
    };
    if (!scheduleInBackground(options.schedule, prune)) void prune();
  }

  return { pruneInbox, pruneInBackground };
}
