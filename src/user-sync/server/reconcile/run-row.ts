/**
 * The run row's side of every batch statement (a page of the walk, a batch of the deletion
 * check, of tombstones): the `run` CTE that adds to its counters, appends the first changes and
 * moves its checkpoint while the lease is held, and the state it returns.
 */
import { type getTableColumns, sql, type SQL } from "drizzle-orm";

import type { ReconcilePhase, SyncedUsersTable, UserSyncTables } from "../schema";
import type { ReconcileLease } from "./lease";
import { parseJson } from "./sql";

export type ReconcileTables = {
  users: SyncedUsersTable;
  seen: UserSyncTables["userSyncReconcileSeen"];
  runs: UserSyncTables["userSyncReconcileRuns"];
};

/** Where a batch leaves the run: each field set moves that part of the checkpoint. */
export type ReconcileCheckpoint = {
  walkOffset?: number;
  walkCursor?: string;
  walkCursorCreatedAtMs?: number;
  confirmCursor?: string;
  tombstoneCursor?: string;
  phase?: ReconcilePhase;
  clerkTotal?: number;
  /** Live mirror rows the deletion check finished, added to the run's count. */
  liveRowsAdded?: number;
};

/** The run row's counters and checkpoint after a batch. */
export type ReconcileRunState = {
  walkOffset: number;
  walkCursor: string | null;
  walkCursorCreatedAtMs: number | null;
  confirmCursor: string | null;
  tombstoneCursor: string | null;
  phase: ReconcilePhase;
  clerkTotal: number | null;
  walked: number;
  missing: number;
  stale: number;
  deleted: number;
  unchanged: number;
  malformed: number;
  liveRows: number;
  wouldDelete: number;
  unconfirmed: number;
  clerkRequests: number;
  truncated: boolean;
};

export type RunReturning = ReconcileRunState & { listed: number };
type RunColumn = keyof ReturnType<typeof getTableColumns<UserSyncTables["userSyncReconcileRuns"]>>;
type Counter = "walked" | "missing" | "stale" | "deleted" | "unchanged" | "malformed" | "clerkRequests" | "wouldDelete" | "unconfirmed" | "liveRows";

/**
 * The `run` CTE every batch ends with: adds to the run's counters, appends the batch's first
 * changes (from a `listed` CTE: user_id, kind, fields, applied) to the capped list, moves the
 * checkpoint, only while the lease is held (from a `counted` CTE aliased `c`).
 */
export function runUpdate(
  tables: ReconcileTables,
  runId: string,
  held: SQL,
  room: number,
  add: Partial<Record<Counter, SQL>>,
  checkpoint: ReconcileCheckpoint,
  tombstoneCursor?: SQL,
): SQL {
  const r = (key: RunColumn) => sql.identifier(tables.runs[key].name);
  const counters = Object.entries(add).map(([key, value]) => sql`${r(key as Counter)} = t.${r(key as Counter)} + ${value}`);
  const moved = (key: RunColumn, value: string | number | undefined, type: "int" | "bigint" | "text") =>
    sql`${r(key)} = coalesce(${value ?? null}::${sql.raw(type)}, t.${r(key)})`;
  const returned: RunColumn[] = [
    "walkOffset", "walkCursor", "walkCursorCreatedAtMs", "confirmCursor", "tombstoneCursor", "phase", "clerkTotal", "walked", "missing",
    "stale", "deleted", "unchanged", "malformed", "liveRows", "wouldDelete", "unconfirmed", "clerkRequests", "truncated",
  ];
  return sql`run as (
      update ${tables.runs} as t set
        ${sql.join(counters, sql`, `)},
        -- The list as it was when nothing joins it: a batch past the cap leaves the stored (TOASTed)
        -- value untouched instead of writing its thousand entries again.
        ${r("changes")} = case when c.changed > 0 and ${room}::int > 0 then t.${r("changes")} || coalesce((
          select jsonb_agg(jsonb_build_object('userId', user_id, 'kind', kind, 'fields', to_jsonb(fields)))
          from (select * from listed where applied order by user_id limit ${room}::int) as first_changes), '[]'::jsonb)
          else t.${r("changes")} end,
        ${r("truncated")} = t.${r("truncated")} or c.changed > ${room}::int,
        ${moved("walkOffset", checkpoint.walkOffset, "int")},
        ${moved("walkCursor", checkpoint.walkCursor, "text")},
        ${moved("walkCursorCreatedAtMs", checkpoint.walkCursorCreatedAtMs, "bigint")},
        ${moved("confirmCursor", checkpoint.confirmCursor, "text")},
        ${tombstoneCursor ? sql`${r("tombstoneCursor")} = coalesce(${tombstoneCursor}, t.${r("tombstoneCursor")})` : moved("tombstoneCursor", checkpoint.tombstoneCursor, "text")},
        ${moved("phase", checkpoint.phase, "text")},
        ${moved("clerkTotal", checkpoint.clerkTotal, "int")},
        ${r("updatedAt")} = now()
      from counted c
      where t.${r("id")} = ${runId} and ${held}
      returning ${sql.join(
        returned.map((key) => sql`t.${r(key)} as ${sql.identifier(key)}`),
        sql`, `,
      )}, least(c.changed, ${room}::int) as listed
    )`;
}

export function runStateOf(row: { run: RunReturning | string | null; held: number } | undefined, lease: ReconcileLease): RunReturning {
  if (!row?.held) lease.markLost();
  const run = row?.run ? parseJson(row.run) : null;
  if (!run) throw new Error("The reconciliation run row is gone");
  // bigint columns may come back as text.
  return { ...run, walkCursorCreatedAtMs: run.walkCursorCreatedAtMs === null ? null : Number(run.walkCursorCreatedAtMs) };
}
