import { sql, type getTableColumns, type SQL } from "drizzle-orm";

import type { ClerkUserSnapshot } from "./clerk-user";
import type { ReconcileChangeKind, ReconcilePhase, SyncedUsersTable, UserSyncTables } from "./schema";
import {
  assignments,
  fetchedUpsertClauses,
  mirroredValueColumns,
  tombstoneClauses,
  writeGuards,
  type GuardColumn,
  type RowReference,
  type UserSyncDatabase,
  type WriteOutcome,
} from "./write-path";

/**
 * A PostgreSQL array literal, sent as one text parameter and cast in SQL: a 500-user page is a
 * handful of parameters whatever the driver (postgres.js would send a JS array of strings as
 * "a,b", and building thousands of separate parameters costs more than the statement itself).
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  return `{${values
    .map((value) => (value === null ? "NULL" : typeof value === "number" ? String(value) : `"${value.replace(/[\\"]/g, "\\$&")}"`))
    .join(",")}}`;
}

export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

export type ReconcilePage = {
  runId: string;
  /** False: a dry run, which writes no user row (only its seen ids and its run row). */
  apply: boolean;
  /** The page's users as Clerk returned them. */
  snapshots: ClerkUserSnapshot[];
  /** Every id walked on this page, malformed users' too (they exist in Clerk). */
  walkedIds: string[];
  /** Live mirror rows Clerk confirmed gone: tombstoned (apply) or reported (dry run). */
  goneIds: string[];
  /** How many more changes the run's list may take. */
  room: number;
  malformed: number;
  clerkRequests: number;
  checkpoint: { walkOffset?: number; confirmCursor?: string; phase?: ReconcilePhase; clerkTotal?: number };
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
  run: {
    walkOffset: number;
    confirmCursor: string | null;
    phase: ReconcilePhase;
    clerkTotal: number | null;
    walked: number;
    missing: number;
    stale: number;
    deleted: number;
    unchanged: number;
    malformed: number;
    clerkRequests: number;
    truncated: boolean;
  };
};

/**
 * One page of a reconciliation in ONE statement, so it is atomic and costs one round trip:
 * records the walked ids (users seen before on this run are skipped: pages repeat when Clerk's
 * list shifts), compares the rest with their mirror rows, writes the ones that drifted through
 * the write path's own guards and SET lists (write-path.ts: `writeGuards`,
 * `fetchedUpsertClauses`, `tombstoneClauses`), tombstones confirmed deletions (`deleted_by =
 * 'reconcile'`, the clock left at the newest Clerk gave, so a later fetch can lift it), and
 * moves the run's counts and checkpoint.
 *
 * Drift, as the write path judges a fetched snapshot: missing (no row: every field listed);
 * stale (Clerk's clock ahead: the mirrored values that differ plus `clerkUpdatedAt`; an equal
 * clock with other values; a 404 tombstone Clerk lists with a newer clock: `deletedAt` too).
 * A row ahead of Clerk, or Clerk's own deletion, is left alone. Only drifted rows are written:
 * a second run writes nothing, not even `clerk_fetched_at`.
 *
 * A crash loses at most the last pages' commits, their checkpoint with them, so the statement
 * does not wait for the WAL flush (`synchronous_commit` off, this transaction only): the
 * resumed run redoes those pages.
 */
export async function commitReconcilePage(
  db: UserSyncDatabase,
  tables: { users: SyncedUsersTable; seen: UserSyncTables["userSyncReconcileSeen"]; runs: UserSyncTables["userSyncReconcileRuns"] },
  page: ReconcilePage,
): Promise<ReconcilePageResult> {
  const users = tables.users;
  const name = (key: GuardColumn | "id") => sql.identifier(users[key].name);
  const on = (alias: string): RowReference => (column) => sql`${sql.raw(alias)}.${name(column)}`;
  const compare = writeGuards(on("m"), on("p"));
  const r = (key: keyof ReturnType<typeof getTableColumns<UserSyncTables["userSyncReconcileRuns"]>>) => sql.identifier(tables.runs[key].name);
  const s = page.snapshots;
  const ids = pgArray(s.map((x) => x.id));
  const differs = (column: GuardColumn) => sql`case when m.${name("id")} is null or m.${name(column)} is distinct from p.${name(column)} then ${column} end`;
  const valueColumns = sql`${name("id")}, ${sql.join(mirroredValueColumns.map(name), sql`, `)}, ${name("clerkUpdatedAt")}`;
  const upsert = fetchedUpsertClauses(users);
  const tombstone = tombstoneClauses(users);

  const writes: SQL = page.apply
    ? sql`
      written as (
        insert into ${users} (${valueColumns}, ${sql.identifier(users.lastSyncedAt.name)}, ${sql.identifier(users.lastSyncOutcome.name)}, ${sql.identifier(users.clerkFetchedAt.name)})
        select ${valueColumns}, now(), 'created', now() from planned order by ${name("id")}
        on conflict (${name("id")}) do update set ${assignments(users, upsert.set)}
        where ${upsert.where}
        returning ${name("id")} as id, ${sql.identifier(users.lastSyncOutcome.name)} as outcome
      ),
      gone as (
        insert into ${users} (${name("id")}, ${name("clerkUpdatedAt")}, ${name("deletedAt")}, ${name("deletedBy")},
          ${sql.identifier(users.lastSyncedAt.name)}, ${sql.identifier(users.lastSyncOutcome.name)})
        select g.id, 0, now(), 'reconcile', now(), 'deleted' from unnest(${pgArray([...page.goneIds].sort())}::text[]) as g(id)
        on conflict (${name("id")}) do update set ${assignments(users, tombstone.set)}
        where ${tombstone.where}
        returning ${name("id")} as id
      ),`
    : sql`
      written as (
        select ${name("id")} as id,
          case when missing then 'created' when restore then 'restored' when differs then 'updated' else 'touched' end as outcome
        from planned
      ),
      gone as (select ${name("id")} as id from ${users} where ${name("id")} = any(${pgArray(page.goneIds)}::text[]) and ${name("deletedAt")} is null),`;

  const result = await db.execute(sql`
    with
    sync_commit as (select set_config('synchronous_commit', 'off', true) as value),
    page as (
      select * from unnest(
        ${ids}::text[],
        ${sql.join(
          mirroredValueColumns.map((key) =>
            key === "banned" || key === "locked"
              ? sql`${pgArray(s.map((x) => String(x[key])))}::boolean[]`
              : sql`${pgArray(s.map((x) => x[key]))}::text[]`,
          ),
          sql`, `,
        )},
        ${pgArray(s.map((x) => x.clerkUpdatedAtMs))}::bigint[]
      ) as p(${valueColumns})
    ),
    -- Both lookups are LATERAL subqueries with a LIMIT, which PostgreSQL cannot flatten into a
    -- hash join: one primary-key probe per user of the page, whatever the statistics say. (On a
    -- first backfill the tables grow from empty faster than ANALYZE runs, and a planner that
    -- believes them small scans them whole for every page: quadratic in the number of users.)
    -- Seen ids: an anti-join, not ON CONFLICT: the run holds the lock, nothing else writes them.
    fresh as (
      insert into ${tables.seen} (${sql.identifier(tables.seen.runId.name)}, ${sql.identifier(tables.seen.userId.name)})
      select distinct ${page.runId}::text, walked.id
      from unnest(${pgArray(page.walkedIds)}::text[]) as walked(id)
      left join lateral (
        select true as hit from ${tables.seen} as s
        where s.${sql.identifier(tables.seen.runId.name)} = ${page.runId} and s.${sql.identifier(tables.seen.userId.name)} = walked.id
        limit 1
      ) as before on true
      where before.hit is null
      returning ${sql.identifier(tables.seen.userId.name)} as user_id
    ),
    mirror as (
      select m.* from unnest(${ids}::text[]) as wanted(id)
      join lateral (
        select ${valueColumns}, ${name("deletedAt")}, ${name("deletedBy")}
        from ${users} where ${name("id")} = wanted.id
        limit 1
      ) as m on true
    ),
    compared as (
      select p.*, m.${name("id")} is null as missing, coalesce(${compare.take}, false) as take,
        coalesce(${compare.restore}, false) as restore, coalesce(${compare.differs}, true) as differs,
        array_remove(array[
          ${sql.join(mirroredValueColumns.map(differs), sql`, `)},
          case when m.${name("id")} is null or ${compare.newer} then 'clerkUpdatedAt' end,
          case when m.${name("deletedAt")} is not null then 'deletedAt' end
        ], null) as fields
      from page p join fresh f on f.user_id = p.${name("id")} left join mirror m on m.${name("id")} = p.${name("id")}
    ),
    planned as (select * from compared where missing or take),
    ${writes}
    listed as (
      select p.${name("id")} as user_id, case when p.missing then 'missing' else 'stale' end as kind, p.fields, w.outcome, w.id is not null as applied
      from planned p left join written w on w.id = p.${name("id")}
      union all
      select g.id, 'deleted', array['deletedAt'], 'deleted', true from gone g
    ),
    counted as (
      select (select count(*) from fresh) as fresh, (select count(*) from compared) as compared,
        count(*) filter (where applied and kind = 'missing') as missing,
        count(*) filter (where applied and kind = 'stale') as stale,
        count(*) filter (where applied and kind = 'deleted') as deleted,
        count(*) filter (where applied and kind <> 'deleted') as written,
        count(*) filter (where applied) as changed
      from listed
    ),
    run as (
      update ${tables.runs} as t set
        ${r("walked")} = t.${r("walked")} + c.fresh,
        ${r("missing")} = t.${r("missing")} + c.missing,
        ${r("stale")} = t.${r("stale")} + c.stale,
        ${r("deleted")} = t.${r("deleted")} + c.deleted,
        ${r("unchanged")} = t.${r("unchanged")} + c.compared - c.written,
        ${r("malformed")} = t.${r("malformed")} + ${page.malformed}::int,
        ${r("clerkRequests")} = t.${r("clerkRequests")} + ${page.clerkRequests}::int,
        ${r("changes")} = t.${r("changes")} || coalesce((
          select jsonb_agg(jsonb_build_object('userId', user_id, 'kind', kind, 'fields', to_jsonb(fields)))
          from (select * from listed where applied order by user_id limit ${page.room}::int) as first_changes), '[]'::jsonb),
        ${r("truncated")} = t.${r("truncated")} or c.changed > ${page.room}::int,
        ${r("walkOffset")} = coalesce(${page.checkpoint.walkOffset ?? null}::int, t.${r("walkOffset")}),
        ${r("confirmCursor")} = coalesce(${page.checkpoint.confirmCursor ?? null}::text, t.${r("confirmCursor")}),
        ${r("phase")} = coalesce(${page.checkpoint.phase ?? null}::text, t.${r("phase")}),
        ${r("clerkTotal")} = coalesce(${page.checkpoint.clerkTotal ?? null}::int, t.${r("clerkTotal")}),
        ${r("updatedAt")} = now()
      from counted c
      where t.${r("id")} = ${page.runId}
      returning t.${r("walkOffset")} as "walkOffset", t.${r("confirmCursor")} as "confirmCursor", t.${r("phase")} as phase,
        t.${r("clerkTotal")} as "clerkTotal", t.${r("walked")} as walked, t.${r("missing")} as missing, t.${r("stale")} as stale,
        t.${r("deleted")} as deleted, t.${r("unchanged")} as unchanged, t.${r("malformed")} as malformed,
        t.${r("clerkRequests")} as "clerkRequests", t.${r("truncated")} as truncated, least(c.changed, ${page.room}::int) as listed
    )
    select (select row_to_json(run) from run) as run,
      (select coalesce(json_agg(json_build_object('userId', user_id, 'kind', kind, 'outcome',
        case when not applied then 'stale' when ${!page.apply} then 'planned' else outcome end)), '[]')
        from listed) as outcomes,
      (select value from sync_commit) as sync_commit`);
  const [row] = rowsOf<{ run: (ReconcilePageResult["run"] & { listed: number }) | string | null; outcomes: ReconcilePageOutcome[] | string }>(result);
  // postgres.js parses json columns; PGlite may hand them over as text.
  const parse = <T>(value: T | string): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);
  const run = row?.run ? parse(row.run) : null;
  if (!run) throw new Error("The reconciliation run row is gone");
  const { listed, ...counters } = run;
  return { outcomes: parse(row!.outcomes), listed, run: counters };
}

/**
 * The next live mirror rows (in id order, after `cursor`) that the run has not seen in Clerk's
 * list: deletion candidates, to be confirmed with Clerk before anything is tombstoned. One
 * primary-key walk of the users table over the whole confirmation, one probe per row.
 */
export async function deletionCandidates(
  db: UserSyncDatabase,
  tables: { users: SyncedUsersTable; seen: UserSyncTables["userSyncReconcileSeen"] },
  runId: string,
  cursor: string | null,
  limit: number,
): Promise<{ id: string }[]> {
  const u = (key: "id" | "deletedAt") => sql`users.${sql.identifier(tables.users[key].name)}`;
  const seen = tables.seen;
  const result = await db.execute(sql`
    select ${u("id")} as id from ${tables.users} as users
    left join lateral (
      select true as hit from ${seen} as s
      where s.${sql.identifier(seen.runId.name)} = ${runId} and s.${sql.identifier(seen.userId.name)} = ${u("id")}
      limit 1
    ) as walked on true
    where ${u("deletedAt")} is null and walked.hit is null ${cursor === null ? sql`` : sql`and ${u("id")} > ${cursor}`}
    order by ${u("id")}
    limit ${limit}`);
  return rowsOf<{ id: string }>(result);
}
