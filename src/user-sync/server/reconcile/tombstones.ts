/** The run's confirmed deletions written as tombstones, a bounded batch per statement. */
import { sql } from "drizzle-orm";

import { rowsOf, type UserSyncDatabase } from "../database";
import { assignments, tombstoneClauses, type GuardColumn } from "../write-path";
import type { ReconcileLease } from "./lease";
import { runStateOf, runUpdate, type ReconcileRunState, type ReconcileTables, type RunReturning } from "./run-row";
import { seenColumns } from "./seen-set";

/**
 * Writes up to `limit` of the run's confirmed deletions after `cursor` (in id order) as
 * tombstones (`deleted_by = 'reconcile'`, personal data cleared, the clock left at the newest
 * Clerk gave, so a later fetch with a newer clock can lift it), in one statement with the run's
 * counts and checkpoint. Answers how many it took and the last id.
 */
export async function commitTombstones(
  db: UserSyncDatabase,
  tables: ReconcileTables,
  batch: { runId: string; lease: ReconcileLease; cursor: string | null; limit: number; room: number },
): Promise<{ taken: number; lastId: string | null; run: ReconcileRunState }> {
  const users = tables.users;
  const name = (key: GuardColumn | "id" | "lastSyncedAt" | "lastSyncOutcome") => sql.identifier(users[key].name);
  const seen = seenColumns(tables.seen);
  const tombstone = tombstoneClauses(users);
  const held = batch.lease.held;
  const result = await db.execute(sql`
    with
    ${batch.lease.renewCte()},
    sync_commit as (select set_config('synchronous_commit', 'off', true) as value),
    -- The partial index of decided ids (state <> 'walked'), from a row comparison, for the same
    -- reason as clearSeenBatch: a batch's rows at a time, statistics or none.
    next_rows as (
      select s.${seen.runId} as run_id, s.${seen.userId} as id, s.${seen.state} as state from ${tables.seen} as s
      where s.${seen.state} <> 'walked' and (s.${seen.runId}, s.${seen.userId}) > (${batch.runId}::text, ${batch.cursor ?? ""}::text)
      order by s.${seen.runId}, s.${seen.userId}
      limit ${batch.limit}
    ),
    batch as (select id from next_rows where run_id = ${batch.runId} and state = 'gone'),
    batch_end as (select max(id) filter (where run_id = ${batch.runId}) as id, count(*) filter (where run_id = ${batch.runId}) as taken from next_rows),
    gone as (
      insert into ${users} (${name("id")}, ${name("clerkUpdatedAt")}, ${name("deletedAt")}, ${name("deletedBy")}, ${name("lastSyncedAt")}, ${name("lastSyncOutcome")})
      select b.id, 0, now(), 'reconcile', now(), 'deleted' from batch b where ${held} order by b.id
      on conflict (${name("id")}) do update set ${assignments(users, tombstone.set)}
      where ${tombstone.where}
      returning ${name("id")} as id
    ),
    listed as (select g.id as user_id, 'deleted' as kind, array['deletedAt'] as fields, true as applied from gone g),
    counted as (select count(*) as deleted, count(*) as changed from listed),
    ${runUpdate(tables, batch.runId, held, batch.room, { deleted: sql`c.deleted` }, {}, sql`(select id from batch_end)`)}
    select (select row_to_json(run) from run) as run, (select taken from batch_end)::int as taken, (select id from batch_end) as last_id,
      (select count(*) from lease_held)::int as held, (select value from sync_commit) as sync_commit`);
  const [row] = rowsOf<{ run: RunReturning | string | null; taken: number; last_id: string | null; held: number }>(result);
  const run: ReconcileRunState = runStateOf(row, batch.lease);
  return { taken: row!.taken, lastId: row!.last_id, run };
}
