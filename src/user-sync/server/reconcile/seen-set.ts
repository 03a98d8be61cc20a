/**
 * A run's seen set (`user_sync_reconcile_seen`): the ids the walk found in Clerk, read back by the
 * deletion check window by window, and emptied in bounded batches when the run ends.
 */
import { sql } from "drizzle-orm";

import { rowsOf, type UserSyncDatabase } from "../database";
import type { SyncedUsersTable, UserSyncTables } from "../schema";
import type { ReconcileLease } from "./lease";
import { parseJson } from "./sql";

export function seenColumns(seen: UserSyncTables["userSyncReconcileSeen"]) {
  return { runId: sql.identifier(seen.runId.name), userId: sql.identifier(seen.userId.name), state: sql.identifier(seen.state.name) };
}

/**
 * The next window of the mirror for the deletion check: up to `windowRows` rows after `cursor`
 * in id order (a primary-key range, so each statement touches a bounded number of rows whatever
 * the table's size), how many of them are live, and the live ones the run has not seen in
 * Clerk's list: deletion candidates, to be confirmed with Clerk before anything is tombstoned.
 */
export async function deletionCandidates(
  db: UserSyncDatabase,
  tables: { users: SyncedUsersTable; seen: UserSyncTables["userSyncReconcileSeen"] },
  window: { runId: string; cursor: string | null; windowRows: number },
): Promise<{ lastId: string | null; liveRows: number; candidates: string[] }> {
  const u = (key: "id" | "deletedAt") => sql`u.${sql.identifier(tables.users[key].name)}`;
  const seen = seenColumns(tables.seen);
  const result = await db.execute(sql`
    with win as (
      select ${u("id")} as id, ${u("deletedAt")} is null as live from ${tables.users} as u
      ${window.cursor === null ? sql`` : sql`where ${u("id")} > ${window.cursor}`}
      order by ${u("id")}
      limit ${window.windowRows}
    )
    select (select max(id) from win) as last_id, (select count(*) from win where live)::int as live_rows,
      coalesce((
        select json_agg(w.id order by w.id) from win as w
        left join lateral (
          select true as hit from ${tables.seen} as s where s.${seen.runId} = ${window.runId} and s.${seen.userId} = w.id limit 1
        ) as walked on true
        where w.live and walked.hit is null
      ), '[]') as candidates`);
  const [row] = rowsOf<{ last_id: string | null; live_rows: number; candidates: string[] | string }>(result);
  return { lastId: row?.last_id ?? null, liveRows: row?.live_rows ?? 0, candidates: row ? parseJson(row.candidates) : [] };
}

/**
 * Empties a run's seen set while `lease` is held, `batch` ids per statement, in primary-key order
 * from where the last batch stopped. Each batch reads the index from a row comparison,
 * `(run_id, user_id) > ($run, $after)`, not from `run_id = $run`: a table that grew from empty
 * during the walk has no statistics, and the planner would guess the run's rows few, read all of
 * them and sort them for every batch; the row comparison keeps it on the index, a batch's rows at
 * a time. (No TRUNCATE or ANALYZE: they take no parameters, and the plugin sends none such.)
 */
export async function clearSeenSet(
  db: UserSyncDatabase,
  seenTable: UserSyncTables["userSyncReconcileSeen"],
  options: { runId: string; lease: ReconcileLease; batch: number; timed?: <T>(work: () => Promise<T>) => Promise<T> },
): Promise<void> {
  const timed = options.timed ?? (<T>(work: () => Promise<T>) => work());
  let after = "";
  for (;;) {
    options.lease.check();
    const cleared = await timed(() => clearSeenBatch(db, seenTable, { runId: options.runId, lease: options.lease, after, limit: options.batch }));
    if (cleared.taken < options.batch || cleared.lastId === null) return;
    after = cleared.lastId;
  }
}

/**
 * Deletes the next `limit` ids of a run's seen set after `after` (one statement), while `lease`
 * is held; answers how many it took and the last id.
 */
export async function clearSeenBatch(
  db: UserSyncDatabase,
  seenTable: UserSyncTables["userSyncReconcileSeen"],
  batch: { runId: string; lease: ReconcileLease; after: string; limit: number },
): Promise<{ taken: number; lastId: string | null }> {
  const seen = seenColumns(seenTable);
  const result = await db.execute(sql`
    with
    ${batch.lease.renewCte()},
    -- The next rows in primary-key order; another run's rows past this run's end are not taken.
    next_rows as (
      select ctid as row_address, ${seen.runId} as run_id, ${seen.userId} as user_id from ${seenTable}
      where (${seen.runId}, ${seen.userId}) > (${batch.runId}::text, ${batch.after}::text)
      order by ${seen.runId}, ${seen.userId}
      limit ${batch.limit}
    ),
    doomed as (select row_address, user_id from next_rows where run_id = ${batch.runId}),
    deleted as (
      -- By row address: a TID scan of exactly the batch the index range found.
      delete from ${seenTable}
      where ctid = any(array(select row_address from doomed)) and ${batch.lease.held}
      returning 1
    )
    select (select count(*) from doomed)::int as taken, (select max(user_id) from doomed) as last_id,
      (select count(*) from deleted)::int as deleted, (select count(*) from lease_held)::int as held`);
  const [row] = rowsOf<{ taken: number; last_id: string | null; held: number }>(result);
  if (!row?.held) batch.lease.markLost();
  return { taken: row.taken, lastId: row.last_id };
}
