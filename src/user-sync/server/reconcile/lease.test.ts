/**
 * Single flight with a lease in PostgreSQL, where hosts really run: a pool of one connection,
 * two overlapping runs on a pool of two, a holder frozen mid-run (a CLI process stopped with
 * SIGSTOP) whose lease expires and whose run the next one resumes, and what the console sees.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { describe, expect, it } from "vitest";

import { integrationHarness } from "../test-database";
import { createClerkUserDirectory, testSchema as schema } from "../../testing";
import { afterLeaseExpiry, holdListAfterPages, person, reconcileFixtures, spawnReconcileCli, waitFor } from "./test-fixtures";

import { readLease, readReconcileRun, ReconcileLockedError, type ReconcileReport } from "./index";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile_lease", server, { reset: () => directory.reset() });
const { reconcile, mirror, mirrorState, liveIds, expectSameAsUninterrupted } = reconcileFixtures(testDb);

/** A pool of `max` connections to the test database, as a host would configure postgres.js. */
function pool(max: number) {
  const client = postgres(testDb.url, { max, onnotice: () => undefined });
  return { client, db: drizzle({ client, schema }) };
}

/** Fails instead of hanging: a liveness bound for work that deadlocked before (not a timing assertion). */
function settlesWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle: it hangs`)), ms))),
  ]);
}

const seed = (count: number) => {
  for (let i = 0; i < count; i++) directory.add(person(`user_${String(i).padStart(4, "0")}`, 1_000));
};

describe("a lease, not a held connection", () => {
  it("runs on a pool of ONE connection while the instance's other queries keep answering", async () => {
    seed(1_200);
    for (let i = 0; i < 5; i++) await mirror(person(`user_gone_${i}`, 1_000));
    const { client, db } = pool(1);
    try {
      let answered = 0;
      let running = true;
      const run = reconcile({ db, dryRun: false, pageSize: 100 }).finally(() => (running = false));
      // The instance's own traffic on the same single connection, all along the run.
      const traffic = (async () => {
        while (running) {
          await client`select 1`;
          answered += 1;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const report = await settlesWithin(run, 60_000, "the run on a pool of one");
      await settlesWithin(traffic, 10_000, "the other queries");
      expect(report.counts).toEqual({ missing: 1_200, stale: 0, deleted: 5, unchanged: 0 });
      expect(answered).toBeGreaterThan(0);
    } finally {
      await client.end({ timeout: 5 });
    }
  }, 90_000);

  it("two overlapping runs on a pool of two: one runs, the other gets ReconcileLockedError at once, nothing hangs", async () => {
    seed(600);
    const { client, db } = pool(2);
    const release = directory.hold();
    try {
      const first = reconcile({ db, dryRun: false });
      // The first run holds the lease and waits for Clerk's first page.
      await waitFor(async () => (await readLease(testDb.db, schema.userSyncReconcileLease))?.runId);
      const second = await settlesWithin(
        reconcile({ db, dryRun: true }).catch((error: unknown) => error),
        20_000,
        "the second run",
      );
      expect(second).toBeInstanceOf(ReconcileLockedError);
      expect((await settlesWithin(client`select 1 as ok`, 10_000, "a query of the instance"))[0]).toEqual({ ok: 1 });
      release();
      expect((await settlesWithin(first, 60_000, "the first run")).counts.missing).toBe(600);
    } finally {
      release();
      await client.end({ timeout: 5 });
    }
  }, 90_000);

  it("a holder frozen mid-run loses its lease within its duration: the console shows the run interrupted, the next run takes over and resumes; the frozen one, woken, writes nothing more", async () => {
    const seedBoth = async () => {
      seed(2_000);
      for (let i = 0; i < 2_000; i += 3) await mirror(person(`user_${String(i).padStart(4, "0")}`, 500));
    };
    await seedBoth();
    // After two pages Clerk holds its answers: the CLI is mid-walk when it is frozen.
    const release = holdListAfterPages(directory, 2);
    const http = await directory.listen();
    let resumed: ReconcileReport;
    let frozen: ReturnType<typeof spawnReconcileCli> | undefined;
    try {
      frozen = spawnReconcileCli(["--apply"], { databaseUrl: testDb.url, clerkUrl: http.url, USER_SYNC_RECONCILE_LEASE_SECONDS: "2" });
      const run = await waitFor(async () => {
        const view = await readReconcileRun(testDb.db);
        return view?.status === "running" && view.walked >= 1_000 ? view : null;
      });
      expect(run.interrupted).toBe(false);
      frozen.child.kill("SIGSTOP");

      // No heartbeat any more: within the lease (2 s) the run shows as interrupted, and a new run may take it.
      const interrupted = await waitFor(async () => {
        const view = await readReconcileRun(testDb.db, { runId: run.id });
        return view?.interrupted ? view : null;
      });
      expect(interrupted.status).toBe("running");
      release();
      resumed = await afterLeaseExpiry(() => reconcile({ dryRun: false }));
      expect(resumed).toMatchObject({ runId: run.id, resumed: true });

      // Woken, the frozen CLI gets its held page: its write is fenced off by the lease it lost.
      const before = await testDb.client`select xmin::text, * from user_sync_reconcile_runs where id = ${run.id}`;
      const stateBefore = await mirrorState();
      frozen.child.kill("SIGCONT");
      expect(await frozen.exited).toBe(1);
      expect(frozen.output().stderr).toMatch(/lost its lease/);
      expect(await testDb.client`select xmin::text, * from user_sync_reconcile_runs where id = ${run.id}`).toEqual(before);
      expect(await mirrorState()).toEqual(stateBefore);
    } finally {
      if (frozen?.child.exitCode === null) frozen.child.kill("SIGKILL");
      await http.close();
    }
    await expectSameAsUninterrupted(seedBoth, resumed);
    expect(await liveIds()).toHaveLength(2_000);
  }, 120_000);
});
