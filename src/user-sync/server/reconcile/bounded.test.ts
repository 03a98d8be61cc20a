/**
 * Every statement of a run touches a bounded number of rows, whatever the mirror's size: the
 * deletion check reads the mirror in id windows, the seen set is cleared in batches, tombstones
 * are written in batches. Proven with PostgreSQL's own row counts (EXPLAIN ANALYZE of the very
 * statements the run sends), on a mirror several windows large; and a run over such a mirror,
 * with its candidates at the far end, still finds and confirms every one.
 */
import { sql, type SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { users, userSyncReconcileSeen } from "~/server/db/schema";
import { integrationHarness } from "~/test/integration-harness";
import { createClerkUserDirectory } from "~/test/mocks/clerk-users-list";
import { person, reconcileFixtures } from "./test-fixtures";

import { syncedTableOf } from "../schema";
import type { UserSyncDatabase } from "../write-path";
import type { ReconcileLease } from "./lease";
import { clearSeenSet, deletionCandidates } from "./page-write";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile_bounded", server, { reset: () => directory.reset() });
const { reconcile, mirrorMany, liveIds } = reconcileFixtures(testDb);

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Actual Rows": number; "Actual Loops": number; Plans?: PlanNode[] };

/** A database whose `execute` runs each statement under EXPLAIN ANALYZE and keeps its plan (ANALYZE and TRUNCATE run as they are). */
function explaining() {
  const plans: PlanNode[] = [];
  const dialect = new PgDialect();
  const db = {
    async execute(query: SQL) {
      if (/^\s*(analyze|truncate)\b/i.test(dialect.sqlToQuery(query).sql)) return testDb.db.execute(query);
      const result = await testDb.db.execute(sql`explain (analyze, format json) ${query}`);
      const [row] = result as unknown as { "QUERY PLAN": [{ Plan: PlanNode }] }[];
      const plan = row!["QUERY PLAN"][0].Plan;
      plans.push(plan);
      // What the statements' callers read back: the lease held, the rows a deletion took.
      return [{ held: 1, deleted: rowsOf(plan, "ModifyTable"), others: rowsRead(plan, "user_sync_reconcile_seen") > 0 }];
    },
  } as unknown as UserSyncDatabase;
  return { db, plans };
}

/** Rows the nodes of one type produced. */
function rowsOf(plan: PlanNode, nodeType: string): number {
  const own = plan["Node Type"] === nodeType ? plan["Actual Rows"] : 0;
  return own + (plan.Plans ?? []).reduce((sum, child) => sum + rowsOf(child, nodeType), 0);
}

/** Rows each scan of `relation` produced in a plan (per loop × loops: what it read; the write itself is not a read). */
function rowsRead(plan: PlanNode, relation: string): number {
  const own = plan["Relation Name"] === relation && plan["Node Type"] !== "ModifyTable" ? plan["Actual Rows"] * plan["Actual Loops"] : 0;
  return own + (plan.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, relation), 0);
}

const ids = (count: number) => Array.from({ length: count }, (_, i) => `user_${String(i).padStart(5, "0")}`);
/** A lease that is held (the statements' fencing CTE answers one row). */
const heldLease = { renewCte: () => sql`lease_held as (select 1 as held)`, held: sql`true`, check: () => undefined } as unknown as ReconcileLease;

describe("bounded statements", () => {
  it("the deletion check reads one window of the mirror per statement, however large the mirror", async () => {
    const all = ids(30_000);
    await mirrorMany(all);
    // The run saw every user but the last ten: the candidates sit at the far end of the table.
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_x', id from unnest(${all.slice(0, -10)}::text[]) as id`;
    await testDb.client`analyze users`;
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

  it("the seen set is cleared a batch per statement (after the walk filled it from empty, with no statistics)", async () => {
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_x', id from unnest(${ids(35_000)}::text[]) as id`;
    await testDb.client`insert into user_sync_reconcile_seen (run_id, user_id) select 'run_other', id from unnest(${ids(5_000)}::text[]) as id`;
    const { db, plans } = explaining();
    await clearSeenSet(db, userSyncReconcileSeen, { runId: "run_x", rows: 35_000, lease: heldLease, batch: 10_000 });
    // Another run's ids are kept: four deletions (10,000 × 3 and the last 5,000), each reading its
    // batch (index range, then by row address), after the two probes that found the other run.
    expect(plans.slice(1).map((plan) => rowsOf(plan, "ModifyTable"))).toEqual([10_000, 10_000, 10_000, 5_000]);
    for (const plan of plans) expect(rowsRead(plan, "user_sync_reconcile_seen")).toBeLessThanOrEqual(2 * 10_000);
    expect(await testDb.client`select run_id, count(*)::int as n from user_sync_reconcile_seen group by run_id`).toEqual([{ run_id: "run_other", n: 5_000 }]);

    // The only run with seen ids: emptied by TRUNCATE, no row touched.
    const { db: alone, plans: alonePlans } = explaining();
    await clearSeenSet(alone, userSyncReconcileSeen, { runId: "run_other", rows: 5_000, lease: heldLease, batch: 10_000 });
    expect(alonePlans.map((plan) => rowsOf(plan, "ModifyTable"))).toEqual([0]);
    expect((await testDb.client`select count(*)::int as n from user_sync_reconcile_seen`)[0]?.n).toBe(0);
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
