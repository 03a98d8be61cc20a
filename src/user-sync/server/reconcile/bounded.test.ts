/**
 * Every statement of a run touches a bounded number of rows, whatever the mirror's size: the
 * deletion check reads the mirror in id windows, the seen set is cleared in batches, tombstones
 * are written in batches. Proven with PostgreSQL's own row counts and plans (EXPLAIN ANALYZE, or
 * EXPLAIN, of the very statements the run sends) on tables with no statistics, as after a walk
 * from empty; and a run over a mirror several windows large, with its candidates at the far end,
 * still finds and confirms every one.
 */
import { sql, type SQL } from "drizzle-orm";
import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { createClerkUserDirectory, testUsers as users } from "../../testing";
import { userSyncReconcileRuns, userSyncReconcileSeen } from "../schema";
import { integrationHarness } from "../test-database";
import { person, reconcileFixtures } from "./test-fixtures";

import { syncedTableOf } from "../schema";
import type { UserSyncDatabase } from "../database";
import type { ReconcileLease } from "./lease";
import { clearSeenSet, deletionCandidates } from "./seen-set";
import { commitTombstones } from "./tombstones";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile_bounded", server, { reset: () => directory.reset() });
const { reconcile, mirrorMany, liveIds } = reconcileFixtures(testDb);

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; "Actual Rows": number; "Actual Loops": number; Plans?: PlanNode[] };

/** A database whose `execute` runs each statement under EXPLAIN ANALYZE and keeps its plan (for statements whose answer the test does not need). */
function explaining() {
  const plans: PlanNode[] = [];
  const db = {
    async execute(query: SQL) {
      plans.push(await planOf(sql`explain (analyze, format json) ${query}`));
      return [];
    },
  } as unknown as UserSyncDatabase;
  return { db, plans };
}

/** A database that runs each statement as it is, after keeping the plan PostgreSQL chose for it (EXPLAIN, not run). */
function planning() {
  const plans: PlanNode[] = [];
  const db = {
    async execute(query: SQL) {
      plans.push(await planOf(sql`explain (format json) ${query}`));
      return testDb.db.execute(query);
    },
  } as unknown as UserSyncDatabase;
  return { db, plans };
}

async function planOf(explain: SQL): Promise<PlanNode> {
  const [row] = (await testDb.db.execute(explain)) as unknown as { "QUERY PLAN": [{ Plan: PlanNode }] }[];
  return row!["QUERY PLAN"][0].Plan;
}

/** Every node of a plan. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Rows each scan of `relation` produced in a plan (per loop × loops: what it read; the write itself is not a read). */
function rowsRead(plan: PlanNode, relation: string): number {
  const own = plan["Relation Name"] === relation && plan["Node Type"] !== "ModifyTable" ? plan["Actual Rows"] * plan["Actual Loops"] : 0;
  return own + (plan.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, relation), 0);
}

const batchTables = { users: syncedTableOf(users), seen: userSyncReconcileSeen, runs: userSyncReconcileRuns };
const ids = (count: number) => Array.from({ length: count }, (_, i) => `user_${String(i).padStart(5, "0")}`);
/** A lease that is held (the statements' fencing CTE answers one row). */
const heldLease = { renewCte: () => sql`lease_held as (select 1 as held)`, held: sql`true`, check: () => undefined, markLost: () => {
  throw new Error("lost");
} } as unknown as ReconcileLease;

describe("bounded statements", () => {
  it("the deletion check reads one window of the mirror per statement, however large the mirror", async () => {
    const all = ids(30_000);
    await mirrorMany(all);
    // The run saw every user but the last ten: the candidates sit at the far end of the table.
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_x', id from unnest(${all.slice(0, -10)}::text[]) as id`;
    const tables = { users: syncedTableOf(users), seen: userSyncReconcileSeen };

    const { db, plans } = explaining();
    await deletionCandidates(db, tables, { runId: "run_x", cursor: null, windowRows: 5_000 });
    await deletionCandidates(db, tables, { runId: "run_x", cursor: all[24_999]!, windowRows: 5_000 });
    for (const plan of plans) {
      expect(rowsRead(plan, "users")).toBeLessThanOrEqual(5_000);
      expect(rowsRead(plan, "user_sync_reconcile_seen")).toBeLessThanOrEqual(5_000);
    }
    // And the windows still find the candidates at the end.
    const last = await deletionCandidates(testDb.db, tables, { runId: "run_x", cursor: all[24_999]!, windowRows: 5_000 });
    expect(last).toEqual({ lastId: all.at(-1), liveRows: 5_000, candidates: all.slice(-10) });
  });

  it("the seen set is cleared, and confirmed deletions read, a batch per statement along the index, with no statistics after a walk from empty", async () => {
    // A large seen set with no statistics yet (a walk from empty fills it faster than ANALYZE runs).
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_x', 'user_' || lpad(g::text, 6, '0') from generate_series(1, 300000) as g`;
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_y', id from unnest(${ids(5_000)}::text[]) as id`;
    // What a planner guessing the run's rows few would do: read all of them, sort them, for every batch.
    const unbounded = (plan: PlanNode) => nodes(plan).filter((node) => node["Node Type"] === "Sort" || node["Node Type"] === "Bitmap Heap Scan" || node["Node Type"] === "Seq Scan");

    const { db, plans } = planning();
    await clearSeenSet(db, userSyncReconcileSeen, { runId: "run_x", lease: heldLease, batch: 10_000 });
    // Thirty-one deletions (10,000 each, the last one reaching the next run's rows, taking none of them).
    expect(plans).toHaveLength(31);
    for (const plan of plans) {
      expect(unbounded(plan)).toEqual([]);
      expect(nodes(plan).some((node) => node["Node Type"] === "Index Scan" || node["Node Type"] === "Index Only Scan")).toBe(true);
    }
    expect(await testDb.client`select run_id, count(*)::int as n from user_sync_reconcile_seen group by run_id`).toEqual([{ run_id: "run_y", n: 5_000 }]);

    // The tombstone batches read the partial index of decided ids only.
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id, state) select 'run_x', id, case when id like '%7' then 'gone' else 'walked' end from unnest(${ids(30_000)}::text[]) as id`;
    await testDb.client`insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, phase) values ('run_x', 'full', false, 'running', 0, 'tombstone')`;
    await mirrorMany(ids(30_000).filter((id) => id.endsWith("7")));
    const tombstones = planning();
    for (let cursor: string | null = null, taken = 1_000; taken === 1_000; ) {
      const batch = await commitTombstones(tombstones.db, batchTables, { runId: "run_x", lease: heldLease, cursor, limit: 1_000, room: 0 });
      ({ taken } = batch);
      cursor = batch.lastId;
    }
    expect(tombstones.plans).toHaveLength(4);
    for (const plan of tombstones.plans) {
      expect(unbounded(plan).filter((node) => node["Node Type"] !== "Sort")).toEqual([]);
      expect(nodes(plan).some((node) => node["Index Name"]?.endsWith("_decided_idx"))).toBe(true);
    }
    expect((await testDb.client`select count(*)::int as n from users where deleted_at is not null and deleted_by = 'reconcile'`)[0]?.n).toBe(3_000);
  });

  it("a full apply over a mirror several windows large confirms and tombstones the candidates at its far end, counting every live row", async () => {
    const all = ids(25_000);
    await mirrorMany(all);
    for (const id of all.slice(0, -12)) directory.users.set(id, { ...person(id, 1_000), createdAtMs: 1_700_000_000_000 + Number(id.slice(5)) });
    directory.add(person("user_zz_new", 2_000));
    const report = await reconcile({ dryRun: false, deletionCheckWindowRows: 4_000, maxDeletions: 12 });
    expect(report).toMatchObject({ liveRows: 25_001, wouldDelete: 12, counts: { missing: 1, deleted: 12, unchanged: 24_988 } });
    expect(await liveIds()).toHaveLength(24_989);
    expect((await testDb.client`select count(*)::int as n from user_sync_reconcile_seen`)[0]?.n).toBe(0);
  }, 120_000);
});
