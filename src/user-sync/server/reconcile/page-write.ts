import { sql, type SQL } from "drizzle-orm";

import type { ClerkUserSnapshot } from "../clerk/user-json";
import type { ReconcileChangeKind, SyncedUsersTable } from "../schema";
import { assignments, fetchedUpsertClauses, type GuardColumn, mirroredValueColumns, type RowReference, writeGuards } from "../write-path";
import { rowsOf, type UserSyncDatabase } from "../database";
import type { WriteOutcome } from "../outcomes";
import type { ReconcileLease } from "./lease";
import { runStateOf, runUpdate, type ReconcileCheckpoint, type ReconcileRunState, type ReconcileTables, type RunReturning } from "./run-row";
import { seenColumns } from "./seen-set";
import { parseJson, pgArray } from "./sql";

export type ReconcilePage = {
  runId: string;
  lease: ReconcileLease;
  /** False: a dry run, which writes no user row (only its seen ids and its run row). */
  apply: boolean;
  /** Users Clerk returned (a page of the walk, or the live ones of a confirmation). */
  snapshots: ClerkUserSnapshot[];
  /** Every id Clerk returned, malformed users' too (they exist in Clerk): recorded as walked. */
  walkedIds: string[];
  /** Live rows Clerk conclusively said are gone: recorded (and, in a dry run, listed as deleted). */
  goneIds?: string[];
  /** Live rows Clerk said nothing conclusive about: recorded as unconfirmed, never tombstoned. */
  unconfirmedIds?: string[];
  /** How many more changes the run's list may take. */
  room: number;
  malformed: number;
  clerkRequests: number;
  checkpoint: ReconcileCheckpoint;
};

/** One user of the page that drifted, and what became of it (`planned`: a dry run's). */
export type ReconcilePageOutcome = {
  userId: string;
  kind: ReconcileChangeKind;
  /** A write-path outcome; `stale` when a concurrent writer got there first and nothing applied. */
  outcome: Extract<WriteOutcome, "created" | "updated" | "touched" | "restored" | "deleted" | "stale"> | "planned";
};

export type ReconcilePageResult = {
  outcomes: ReconcilePageOutcome[];
  /** Changes appended to the run's list (at most `room`). */
  listed: number;
  run: ReconcileRunState;
};

/**
 * One batch of a reconciliation in ONE statement, so it is atomic and costs one round trip: a
 * page of Clerk's list, or a batch of the deletion check. It renews the run's lease (and writes
 * nothing when the lease is lost: fencing), records the walked ids (users seen before on this run
 * are skipped: pages may repeat), compares the rest with their mirror rows, writes the ones that
 * drifted through the write path's own guards and SET lists (write-path.ts: `writeGuards`,
 * `fetchedUpsertClauses`), records what Clerk said of deletion candidates, and moves the run's
 * counts and checkpoint.
 *
 * Drift, as the write path judges a fetched snapshot: missing (no row: every field listed);
 * stale (Clerk's clock ahead: the mirrored values that differ plus `clerkUpdatedAt`; an equal
 * clock with other values; a 404 tombstone Clerk lists with a newer clock: `deletedAt` too).
 * A row ahead of Clerk, or Clerk's own deletion, is left alone. Only drifted rows are written:
 * a second run writes nothing, not even `clerk_fetched_at`.
 *
 * A crash loses at most the last batches' commits, their checkpoint with them, so the statement
 * does not wait for the WAL flush (`synchronous_commit` off, this transaction only): the
 * resumed run redoes those batches.
 */
export async function commitReconcilePage(db: UserSyncDatabase, tables: ReconcileTables, page: ReconcilePage): Promise<ReconcilePageResult> {
  const { name, valueColumns } = pageColumns(tables.users);
  const held = page.lease.held;
  const result = await db.execute(sql`
    with
    ${page.lease.renewCte()},
    sync_commit as (select set_config('synchronous_commit', 'off', true) as value),
    page as (${pageRows(page.snapshots, valueColumns)}),
    ${seenInserts(tables.seen, page)},
    ${comparedCte(tables.users)},
    planned as (select * from compared where missing or take),
    ${page.apply ? appliedWrites(tables.users, held) : plannedWrites(tables.users)}
    listed as (
      select p.${name("id")} as user_id, case when p.missing then 'missing' else 'stale' end as kind, p.fields, w.outcome, w.id is not null as applied
      from planned p left join written w on w.id = p.${name("id")}
      union all
      select g.id, 'deleted', array['deletedAt'], 'deleted', true from gone g
    ),
    counted as (
      select (select count(*) from fresh) as fresh, (select count(*) from compared) as compared,
        (select count(*) from confirmed_gone) as gone, (select count(*) from not_confirmed) as unconfirmed,
        count(*) filter (where applied and kind = 'missing') as missing,
        count(*) filter (where applied and kind = 'stale') as stale,
        count(*) filter (where applied and kind = 'deleted') as deleted,
        count(*) filter (where applied and kind <> 'deleted') as written,
        count(*) filter (where applied) as changed
      from listed
    ),
    ${runUpdate(tables, page.runId, held, page.room, {
      walked: sql`c.fresh`,
      missing: sql`c.missing`,
      stale: sql`c.stale`,
      deleted: sql`c.deleted`,
      unchanged: sql`c.compared - c.written`,
      malformed: sql`${page.malformed}::int`,
      clerkRequests: sql`${page.clerkRequests}::int`,
      wouldDelete: sql`c.gone`,
      unconfirmed: sql`c.unconfirmed`,
      liveRows: sql`${page.checkpoint.liveRowsAdded ?? 0}::int`,
    }, page.checkpoint)}
    select (select row_to_json(run) from run) as run,
      (select coalesce(json_agg(json_build_object('userId', user_id, 'kind', kind, 'outcome',
        case when not applied then 'stale' when ${!page.apply} then 'planned' else outcome end)), '[]')
        from listed) as outcomes,
      (select count(*) from lease_held)::int as held,
      (select value from sync_commit) as sync_commit`);
  const [row] = rowsOf<{ run: RunReturning | string | null; outcomes: ReconcilePageOutcome[] | string; held: number }>(result);
  const { listed, ...counters } = runStateOf(row, page.lease);
  return { outcomes: parseJson(row!.outcomes), listed, run: counters };
}

/** A column of the users table by its key, and the page's columns: the id, the mirrored values, the clock. */
function pageColumns(users: SyncedUsersTable) {
  const name = (key: GuardColumn | "id") => sql.identifier(users[key].name);
  const valueColumns = sql`${name("id")}, ${sql.join(mirroredValueColumns.map(name), sql`, `)}, ${name("clerkUpdatedAt")}`;
  return { name, valueColumns };
}

/** The page's snapshots as rows `p(id, …values, clerk_updated_at)`: one array parameter per column. */
function pageRows(snapshots: readonly ClerkUserSnapshot[], valueColumns: SQL): SQL {
  const column = (key: (typeof mirroredValueColumns)[number]) =>
    key === "banned" || key === "locked"
      ? sql`${pgArray(snapshots.map((x) => String(x[key])))}::boolean[]`
      : sql`${pgArray(snapshots.map((x) => x[key]))}::text[]`;
  return sql`select * from unnest(
        ${pgArray(snapshots.map((x) => x.id))}::text[],
        ${sql.join(mirroredValueColumns.map(column), sql`, `)},
        ${pgArray(snapshots.map((x) => x.clerkUpdatedAtMs))}::bigint[]
      ) as p(${valueColumns})`;
}

/**
 * The CTEs `fresh` (the walked ids this run had not seen, now recorded), `confirmed_gone` and
 * `not_confirmed` (what Clerk said of deletion candidates), each written only while the lease is held.
 */
function seenInserts(seenTable: ReconcileTables["seen"], page: ReconcilePage): SQL {
  const seen = seenColumns(seenTable);
  const record = (ids: readonly string[] | undefined, state: "gone" | "unconfirmed") => sql`
      insert into ${seenTable} (${seen.runId}, ${seen.userId}, ${seen.state})
      select ${page.runId}::text, x.id, ${state} from unnest(${pgArray(ids ?? [])}::text[]) as x(id)
      where ${page.lease.held}
      on conflict (${seen.runId}, ${seen.userId}) do nothing
      returning ${seen.userId} as user_id`;
  // The seen lookup is a LATERAL subquery with a LIMIT, which PostgreSQL cannot flatten into a
  // hash join: one primary-key probe per walked id, whatever the statistics say. (On a first
  // backfill the tables grow from empty faster than ANALYZE runs, and a planner that believes
  // them small scans them whole for every page: quadratic in the number of users.) An anti-join,
  // not ON CONFLICT: the run holds the lease, nothing else writes them.
  return sql`fresh as (
      insert into ${seenTable} (${seen.runId}, ${seen.userId})
      select distinct ${page.runId}::text, walked.id
      from unnest(${pgArray(page.walkedIds)}::text[]) as walked(id)
      left join lateral (
        select true as hit from ${seenTable} as s
        where s.${seen.runId} = ${page.runId} and s.${seen.userId} = walked.id
        limit 1
      ) as before on true
      where before.hit is null and ${page.lease.held}
      returning ${seen.userId} as user_id
    ),
    confirmed_gone as (${record(page.goneIds, "gone")}),
    not_confirmed as (${record(page.unconfirmedIds, "unconfirmed")})`;
}

/** `compared`: each fresh page row beside its mirror row (`m`), judged by the write path's guards, with the fields that drifted. */
function comparedCte(users: SyncedUsersTable): SQL {
  const { name, valueColumns } = pageColumns(users);
  const on = (alias: string): RowReference => (column) => sql`${sql.raw(alias)}.${name(column)}`;
  const compare = writeGuards(on("m"), on("p"));
  const differs = (column: GuardColumn) => sql`case when m.${name("id")} is null or m.${name(column)} is distinct from p.${name(column)} then ${column} end`;
  return sql`compared as (
      select p.*, m.${name("id")} is null as missing, coalesce(${compare.take}, false) as take,
        coalesce(${compare.restore}, false) as restore, coalesce(${compare.differs}, true) as differs,
        array_remove(array[
          ${sql.join(mirroredValueColumns.map(differs), sql`, `)},
          case when m.${name("id")} is null or ${compare.newer} then 'clerkUpdatedAt' end,
          case when m.${name("deletedAt")} is not null then 'deletedAt' end
        ], null) as fields
      from page p join fresh f on f.user_id = p.${name("id")}
      -- The mirror row is probed per page row (LATERAL, LIMIT 1, as above), not joined as a set:
      -- a mirror CTE joined back by id was a nested loop comparing every page row with every
      -- mirror row (250,000 comparisons a 500-user page).
      left join lateral (
        select ${valueColumns}, ${name("deletedAt")}, ${name("deletedBy")}
        from ${users} where ${name("id")} = p.${name("id")}
        limit 1
      ) as m on true
    )`;
}

/** An apply run's `written` (the planned rows through the write path's guards and SET lists) and `gone` (none: see commitTombstones). */
function appliedWrites(users: SyncedUsersTable, held: SQL): SQL {
  const { name, valueColumns } = pageColumns(users);
  const upsert = fetchedUpsertClauses(users);
  return sql`
      written as (
        insert into ${users} (${valueColumns}, ${sql.identifier(users.lastSyncedAt.name)}, ${sql.identifier(users.lastSyncOutcome.name)}, ${sql.identifier(users.clerkFetchedAt.name)})
        select ${valueColumns}, now(), 'created', now() from planned where ${held} order by ${name("id")}
        on conflict (${name("id")}) do update set ${assignments(users, upsert.set)}
        where ${upsert.where}
        returning ${name("id")} as id, ${sql.identifier(users.lastSyncOutcome.name)} as outcome
      ),
      -- An apply run lists its deletions when it writes the tombstones (commitTombstones).
      gone as (select null::text as id where false),`;
}

/** A dry run's `written` (what each planned row would become) and `gone` (the live rows Clerk confirmed deleted). */
function plannedWrites(users: SyncedUsersTable): SQL {
  const { name } = pageColumns(users);
  return sql`
      written as (
        select ${name("id")} as id,
          case when missing then 'created' when restore then 'restored' when differs then 'updated' else 'touched' end as outcome
        from planned
      ),
      gone as (
        select u.${name("id")} as id from ${users} as u join confirmed_gone c on c.user_id = u.${name("id")}
        where u.${name("deletedAt")} is null
      ),`;
}
