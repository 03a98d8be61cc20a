/**
 * The shared Clerk budget on the real PostgreSQL server, as two app instances use it: two
 * budget objects, each on its own connection pool, drawing from one row.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { testSchema as schema } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createPostgresClerkBudget, tryAcquireClerkBudget, type ClerkBudget, type PostgresClerkBudgetOptions } from "./budget";

type PostgresClerkBudget = ReturnType<typeof createPostgresClerkBudget>;

let testDb: TestDatabase;
let otherInstance: ReturnType<typeof postgres>;

beforeAll(async () => {
  testDb = await createTestDatabase("clerk_budget");
  // A second app instance: its own pool on the same database.
  otherInstance = postgres(testDb.url, { max: 10, onnotice: () => undefined });
});
beforeEach(() => testDb.truncate());
afterAll(async () => {
  await otherInstance.end({ timeout: 5 });
  await testDb.close();
});

type Settings = Omit<PostgresClerkBudgetOptions, "db">;

/** The same budget as seen from instance A and instance B. */
function twoInstances(settings: Settings): [PostgresClerkBudget, PostgresClerkBudget] {
  const dbA = testDb.db;
  const dbB = drizzle({ client: otherInstance, schema });
  return [
    createPostgresClerkBudget({ ...settings, db: () => Promise.resolve(dbA) }),
    createPostgresClerkBudget({ ...settings, db: () => Promise.resolve(dbB) }),
  ];
}

/** The largest number of grants inside any window of `windowMs` (grant times sorted). */
function maxInAnyWindow(timesMs: number[], windowMs: number): number {
  const sorted = [...timesMs].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("createPostgresClerkBudget", () => {
  it("holds one limit across instances: 40 concurrent takes on two instances, a burst of 5 → exactly 5 granted", async () => {
    // 10 per minute with a burst of 5: nothing refills during the test (one request per 15 s).
    const [a, b] = twoInstances({ requestsPerWindow: 10, windowMs: 60_000, burst: 5 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).acquire("live")));
    expect(results.filter(Boolean)).toHaveLength(5);
    const refusal = await a.tryAcquire("live");
    expect(refusal.granted).toBe(false);
    // The next slot is one emission interval (60 s / (10 − 5 − 1)) after the burst, give or take the test's run time.
    expect(refusal.granted ? 0 : refusal.retryAfterMs).toBeGreaterThan(13_000);
    expect(refusal.granted ? 0 : refusal.retryAfterMs).toBeLessThanOrEqual(15_000);
  });

  it("never grants more than the limit in any window, with both instances taking as fast as they can", async () => {
    const limit = 20;
    const windowMs = 1_000;
    const [a, b] = twoInstances({ requestsPerWindow: limit, windowMs, burst: 4 });
    const grants: { atMs: number; instance: "a" | "b" }[] = [];
    const stopAtMs = Date.now() + 2_600;
    async function worker(budget: ClerkBudget, instance: "a" | "b") {
      while (Date.now() < stopAtMs) {
        if (await budget.acquire("live", { maxWaitMs: 300 })) grants.push({ atMs: Date.now(), instance });
      }
    }
    await Promise.all([...Array.from({ length: 6 }, () => worker(a, "a")), ...Array.from({ length: 6 }, () => worker(b, "b"))]);
    const most = maxInAnyWindow(grants.map((g) => g.atMs), windowMs);
    console.info(`budget ${limit}/${windowMs} ms, 12 workers on 2 instances for 2.6 s: ${grants.length} grants, at most ${most} in any ${windowMs} ms window`);
    expect(most).toBeLessThanOrEqual(limit);
    expect(grants.some((g) => g.instance === "a")).toBe(true);
    expect(grants.some((g) => g.instance === "b")).toBe(true);
    // The budget did hand out its burst and refills (not a budget that refuses everything).
    expect(grants.length).toBeGreaterThan(limit);
  });

  it("shares a pause: a 429 seen by one instance stops the other until Retry-After has passed", async () => {
    const [a, b] = twoInstances({ requestsPerWindow: 100, windowMs: 10_000 });
    expect(await b.acquire("live")).toBe(true);
    await a.pause(1);
    const refused = await b.tryAcquire("live");
    expect(refused.granted).toBe(false);
    expect(refused.granted ? 0 : refused.retryAfterMs).toBeGreaterThan(800);
    expect(refused.granted ? 0 : refused.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(await b.acquire("reconcile")).toBe(false);
    // A live caller willing to wait gets the first slot after the pause, not before.
    const startedAtMs = Date.now();
    expect(await b.acquire("live", { maxWaitMs: 2_000 })).toBe(true);
    expect(Date.now() - startedAtMs).toBeGreaterThanOrEqual(700);
    // Reconciliation goes again once that live slot has drained.
    expect(await a.acquire("reconcile", { maxWaitMs: 1_000 })).toBe(true);
  });

  it("never shortens a pause, and bounds an absurd Retry-After", async () => {
    const [a, b] = twoInstances({ requestsPerWindow: 100, maxPauseSeconds: 5 });
    await a.pause(3);
    await b.pause(1);
    const afterShorter = await a.tryAcquire("live");
    expect(afterShorter.granted ? 0 : afterShorter.retryAfterMs).toBeGreaterThan(2_000);
    await b.pause(86_400);
    const capped = await b.tryAcquire("live");
    expect(capped.granted ? 0 : capped.retryAfterMs).toBeGreaterThan(4_000);
    expect(capped.granted ? 0 : capped.retryAfterMs).toBeLessThanOrEqual(5_000);
  });

  it("lets reconciliation take only what live traffic left: never from a live backlog, and live keeps its burst", async () => {
    // Burst 5, one request per 15 s: nothing refills during the test.
    const [a, b] = twoInstances({ requestsPerWindow: 10, windowMs: 60_000, burst: 5, reconcileShare: 0.5 });
    // Idle bucket: reconciliation may go, once (its own bucket holds 2, but it never dips into live's burst).
    expect(await a.acquire("reconcile")).toBe(true);
    expect(await b.acquire("reconcile")).toBe(false);
    // Live traffic still has the rest of the burst.
    const live = await Promise.all([a, b, a, b, a, b].map((budget) => budget.acquire("live")));
    expect(live.filter(Boolean)).toHaveLength(4);
    const refused = await a.tryAcquire("reconcile");
    expect(refused.granted).toBe(false);
  });

  it("caps reconciliation at its share of the limit in every window, even with no live traffic", async () => {
    const limit = 20;
    const windowMs = 1_000;
    const [a] = twoInstances({ requestsPerWindow: limit, windowMs, burst: 2, reconcileShare: 0.25 });
    const grants: number[] = [];
    const stopAtMs = Date.now() + 2_200;
    while (Date.now() < stopAtMs) {
      if (await a.acquire("reconcile", { maxWaitMs: 500 })) grants.push(Date.now());
    }
    const most = maxInAnyWindow(grants, windowMs);
    console.info(`reconcile share 0.25 of ${limit}/${windowMs} ms: ${grants.length} grants in 2.2 s, at most ${most} in any window`);
    expect(most).toBeLessThanOrEqual(limit * 0.25);
    expect(grants.length).toBeGreaterThan(1);
  });

  it("yields reconciliation to live traffic that uses the whole budget", async () => {
    const [a, b] = twoInstances({ requestsPerWindow: 20, windowMs: 1_000, burst: 4, reconcileShare: 0.5 });
    let live = 0;
    let reconcile = 0;
    const stopAtMs = Date.now() + 1_500;
    async function liveWorker(budget: ClerkBudget) {
      while (Date.now() < stopAtMs) if (await budget.acquire("live", { maxWaitMs: 400 })) live++;
    }
    async function reconcileWorker() {
      while (Date.now() < stopAtMs) if (await b.acquire("reconcile", { maxWaitMs: 100 })) reconcile++;
    }
    await Promise.all([liveWorker(a), liveWorker(a), liveWorker(a), liveWorker(b), liveWorker(b), reconcileWorker()]);
    console.info(`saturating live traffic for 1.5 s: live ${live} grants, reconciliation ${reconcile}`);
    // Live callers queue for every slot (they reserve ahead); reconciliation only finds a drained bucket rarely.
    expect(live).toBeGreaterThan(reconcile * 5);
  });

  it("refuses a request larger than the burst instead of waiting forever", async () => {
    const [a] = twoInstances({ requestsPerWindow: 10, burst: 2 });
    await expect(a.acquire("live", { requests: 3 })).rejects.toThrow(RangeError);
    await sleep(0);
  });

  it("stops waiting when the caller aborts", async () => {
    const [a] = twoInstances({ requestsPerWindow: 100 });
    await a.pause(5);
    const controller = new AbortController();
    const waiting = a.acquire("reconcile", { maxWaitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const startedAtMs = Date.now();
    expect(await waiting).toBe(false);
    expect(Date.now() - startedAtMs).toBeLessThan(2_000);
  });

  it("gives a retry hint for budgets that only implement acquire (Clerk's window)", async () => {
    const refusing: ClerkBudget = { acquire: () => Promise.resolve(false), pause: () => Promise.resolve() };
    expect(await tryAcquireClerkBudget(refusing, "live")).toEqual({ granted: false, retryAfterMs: 10_000 });
    const [a] = twoInstances({ requestsPerWindow: 100 });
    expect(await tryAcquireClerkBudget(a, "live")).toEqual({ granted: true });
  });
});
