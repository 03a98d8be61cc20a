/**
 * Persisted write telemetry on the real PostgreSQL server: counters from several instances
 * land in one row per minute and key, the hot path makes no round trip, failed flushes keep
 * their counts, retention is pruned by one instance at a time, and the plugin's writers feed it.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { clerkApiUrl, createClerkBackend, mintSessionToken, signedRequest, testSchema as schema, testUsers as users, userEvent } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createUserSync, type UserSyncEvent } from "..";
import { createWriteTelemetry, readWriteStats, telemetryPruneLockKey, type WriteTelemetryOptions } from "./telemetry";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let testDb: TestDatabase;
let otherInstance: ReturnType<typeof postgres>;
let statements: string[] = [];
let countedInstance: ReturnType<typeof postgres>;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("write_telemetry");
  otherInstance = postgres(testDb.url, { max: 5, onnotice: () => undefined });
  // An instance whose every statement is recorded, to count round trips.
  countedInstance = postgres(testDb.url, { max: 1, onnotice: () => undefined, debug: (_connection, query) => statements.push(query) });
});
beforeEach(async () => {
  clerk.reset();
  statements = [];
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await otherInstance.end({ timeout: 5 });
  await countedInstance.end({ timeout: 5 });
  await testDb.close();
});

const dbA = () => Promise.resolve(testDb.db);
const dbB = () => Promise.resolve(drizzle({ client: otherInstance, schema }));

function telemetry(options: Partial<WriteTelemetryOptions> = {}) {
  // A long interval: the tests flush explicitly unless they test the timer.
  return createWriteTelemetry({ db: dbA, flushIntervalMs: 60_000, ...options });
}

async function statsRows() {
  return testDb.client<{ source: string; outcome: string; clerk_fetched: boolean; error_code: string; count: string; duration_ms_total: string; duration_ms_max: number }[]>`
    select source, outcome, clerk_fetched, error_code, count::text, duration_ms_total::text, duration_ms_max
    from user_sync_write_stats order by source, outcome, clerk_fetched, error_code`;
}

const event = (overrides: Partial<UserSyncEvent> = {}): UserSyncEvent => ({
  source: "client-sync",
  outcome: "created",
  clerkFetched: true,
  changedData: false,
  durationMs: 10,
  ...overrides,
});

describe("createWriteTelemetry", () => {
  it("adds up the counts of two instances flushing at once into one row per minute and key", async () => {
    const atMs = Date.parse("2026-11-22T10:15:30Z");
    const a = telemetry({ now: () => atMs });
    const b = createWriteTelemetry({ db: dbB, flushIntervalMs: 60_000, now: () => atMs + 20_000 });
    for (let i = 0; i < 30; i++) a.record(event({ durationMs: i }));
    for (let i = 0; i < 20; i++) b.record(event({ durationMs: 100 }));
    b.record(event({ source: "webhook", outcome: "updated", clerkFetched: false, durationMs: 3 }));
    a.record(event({ outcome: "error", errorCode: "CLERK_RATE_LIMITED", durationMs: 7 }));
    await Promise.all([a.flush(), b.flush()]);
    // A second round on the same keys adds to the same rows.
    a.record(event({ durationMs: 1 }));
    await a.flush();
    const buckets = await testDb.client<{ bucket_start: string }[]>`select distinct bucket_start::text from user_sync_write_stats`;
    expect(buckets).toEqual([{ bucket_start: "2026-11-22 10:15:00+00" }]);
    expect(await statsRows()).toEqual([
      { source: "client-sync", outcome: "created", clerk_fetched: true, error_code: "", count: "51", duration_ms_total: String(435 + 2000 + 1), duration_ms_max: 100 },
      { source: "client-sync", outcome: "error", clerk_fetched: true, error_code: "CLERK_RATE_LIMITED", count: "1", duration_ms_total: "7", duration_ms_max: 7 },
      { source: "webhook", outcome: "updated", clerk_fetched: false, error_code: "", count: "1", duration_ms_total: "3", duration_ms_max: 3 },
    ]);
  });

  it("makes no database round trip per event: 1000 events, then one INSERT statement for all of them", async () => {
    const counted = createWriteTelemetry({ db: () => Promise.resolve(drizzle({ client: countedInstance, schema })), flushIntervalMs: 60_000, pruneIntervalMs: 3_600_000 });
    for (let i = 0; i < 1000; i++) counted.record(event({ outcome: (i % 2 ? "created" : "touched") as UserSyncEvent["outcome"] }));
    expect(statements).toHaveLength(0);
    await counted.flush();
    // postgres.js reads the array types once per new connection; that is not telemetry's.
    statements = statements.filter((query) => !query.includes("pg_catalog.pg_type"));
    const inserts = statements.filter((query) => /^insert into "user_sync_write_stats"/i.test(query));
    console.info(`telemetry: 1000 events → ${statements.length} statements on flush (${inserts.length} insert, ${statements.length - inserts.length} prune)`);
    expect(inserts).toHaveLength(1);
    expect(statements.length).toBeLessThanOrEqual(2);
    expect((await statsRows()).map((row) => [row.outcome, row.count])).toEqual([
      ["created", "500"],
      ["touched", "500"],
    ]);
  });

  it("with the host's scheduler, one scheduled flush writes the counts of every request made before it starts", async () => {
    const tasks: (() => Promise<void>)[] = [];
    const scheduled = telemetry({ schedule: (task) => tasks.push(task) });
    scheduled.record(event());
    scheduled.record(event({ outcome: "updated" }));
    expect(tasks).toHaveLength(1);
    expect(await statsRows()).toEqual([]);
    // The platform runs it after the first request's response.
    await tasks[0]!();
    expect((await statsRows()).map((row) => [row.outcome, row.count])).toEqual([
      ["created", "1"],
      ["updated", "1"],
    ]);
    // A later request schedules a flush of its own.
    scheduled.record(event());
    expect(tasks).toHaveLength(2);
    await tasks[1]!();
    expect((await statsRows()).map((row) => [row.outcome, row.count])).toEqual([
      ["created", "2"],
      ["updated", "1"],
    ]);
  });

  it("falls back to the flush interval's timer when the scheduler refuses (Next's after outside a request)", async () => {
    const refusing = telemetry({
      flushIntervalMs: 50,
      schedule: () => {
        throw new Error("`after` was called outside a request scope");
      },
    });
    refusing.record(event());
    await vi.waitFor(async () => expect((await statsRows()).map((row) => row.count)).toEqual(["1"]), { timeout: 5_000 });
  });

  it("flushes by itself within the flush interval", async () => {
    const timed = telemetry({ flushIntervalMs: 50 });
    timed.record(event());
    for (let waitedMs = 0; waitedMs < 5_000 && (await statsRows()).length === 0; waitedMs += 25) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect((await statsRows()).map((row) => row.count)).toEqual(["1"]);
  });

  it("flushes early when many distinct counters are buffered", async () => {
    const early = telemetry({ maxBufferedKeys: 3 });
    early.record(event({ outcome: "created" }));
    early.record(event({ outcome: "updated" }));
    expect(await statsRows()).toHaveLength(0);
    early.record(event({ outcome: "deleted" }));
    await early.flush();
    expect(await statsRows()).toHaveLength(3);
  });

  it("keeps the counts of a failed flush for the next one, and reports only an error code", async () => {
    let databaseDown = true;
    const failures: unknown[] = [];
    const flaky = createWriteTelemetry({
      db: () => (databaseDown ? Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })) : dbA()),
      flushIntervalMs: 60_000,
      onFlushError: (failure) => failures.push(failure),
    });
    flaky.record(event());
    flaky.record(event());
    await flaky.flush();
    expect(failures).toEqual([{ code: "ECONNREFUSED", bufferedKeys: 1, droppedEvents: 0 }]);
    databaseDown = false;
    flaky.record(event());
    await flaky.flush();
    expect((await statsRows()).map((row) => row.count)).toEqual(["3"]);
  });

  it("stores only the fixed vocabulary: a value that could carry user data is stored as 'other'", async () => {
    const strict = telemetry();
    strict.record(event({ outcome: "ada@example.com" as UserSyncEvent["outcome"], errorCode: "Duplicate key (email)=(ada@example.com)" }));
    await strict.flush();
    expect((await statsRows()).map((row) => [row.outcome, row.error_code])).toEqual([["other", "other"]]);
    const text = JSON.stringify(await testDb.client`select * from user_sync_write_stats`);
    expect(text).not.toContain("ada");
  });

  it("prunes buckets past the retention in bounded batches, one instance at a time", async () => {
    const nowMs = Date.parse("2026-11-22T12:00:00Z");
    for (let day = 0; day < 20; day++) {
      await testDb.client`
        insert into user_sync_write_stats (bucket_start, source, outcome, clerk_fetched, error_code, count, duration_ms_total, duration_ms_max)
        values (${new Date(nowMs - day * 86_400_000).toISOString()}, 'client-sync', 'created', true, '', 1, 1, 1)`;
    }
    const a = telemetry({ now: () => nowMs, retentionDays: 14, pruneBatchSize: 4 });
    // Another instance is pruning: this one deletes nothing.
    const holder = await otherInstance.reserve();
    await holder`select pg_advisory_lock(${telemetryPruneLockKey}::bigint)`;
    expect(await a.prune()).toBe(0);
    await holder`select pg_advisory_unlock(${telemetryPruneLockKey}::bigint)`;
    holder.release();
    // Days 15..19 are past 14 days of retention (day 14 is exactly on the edge and stays).
    expect(await a.prune()).toBe(4);
    expect(await a.prune()).toBe(1);
    expect(await a.prune()).toBe(0);
    const left = await testDb.client<{ n: number }[]>`select count(*)::int as n from user_sync_write_stats`;
    expect(left[0]?.n).toBe(15);
  });

  it("reads totals per source and outcome, self-heals and errors since a time", async () => {
    const nowMs = Date.now();
    const a = telemetry({ now: () => nowMs });
    for (const outcome of ["created", "updated", "restored", "touched", "unchanged"] as const) {
      a.record({ ...event({ outcome: outcome as UserSyncEvent["outcome"] }), count: 2 });
    }
    a.record(event({ outcome: "unchanged", clerkFetched: false }));
    a.record(event({ source: "webhook", outcome: "created", clerkFetched: false }));
    a.record(event({ source: "reconcile", outcome: "error", clerkFetched: true, errorCode: "CLERK_UNAVAILABLE" }));
    await a.flush();
    const totals = await readWriteStats(testDb.db, new Date(nowMs - 3_600_000));
    expect(totals).toEqual({
      outcomes: {
        "client-sync": { created: 2, updated: 2, restored: 2, touched: 2, unchanged: 3 },
        webhook: { created: 1 },
        reconcile: { error: 1 },
      },
      selfHeals: 6,
      clientSyncClerkFetches: 10,
      errors: 1,
    });
    expect(await readWriteStats(testDb.db, new Date(nowMs + 120_000))).toEqual({ outcomes: {}, selfHeals: 0, clientSyncClerkFetches: 0, errors: 0 });
  });
});

describe("createUserSync feeds telemetry", () => {
  const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };

  it("counts user.sync and webhook writes in PostgreSQL, and still calls the host's onEvent", async () => {
    const hostEvents: UserSyncEvent[] = [];
    const userSync = createUserSync({
      db: dbA,
      users,
      clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
      cooldownSeconds: 0,
      onEvent: (e) => hostEvents.push(e),
      webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
      telemetry: { flushIntervalMs: 60_000 },
    });
    clerk.setUser(ada);
    const caller = { sessionToken: mintSessionToken({ userId: ada.id }) };
    await userSync.service.syncUser(ada.id, caller);
    await userSync.service.syncUser(ada.id, caller);
    const response = await userSync.webhook.handle(signedRequest(userEvent("user.updated", { ...ada, firstName: "Augusta", updatedAtMs: 2_000 }), { svixId: "msg_telemetry_1" }));
    expect(response.status).toBe(200);
    clerk.setFault({ kind: "status", status: 503 });
    await expect(userSync.service.syncUser(ada.id, caller)).rejects.toThrow();
    await userSync.telemetry?.flush();
    expect(hostEvents.map((e) => `${e.source}:${e.outcome}`)).toEqual(["client-sync:created", "client-sync:unchanged", "webhook:updated", "client-sync:error"]);
    expect((await statsRows()).map((row) => [row.source, row.outcome, row.error_code, row.count])).toEqual([
      ["client-sync", "created", "", "1"],
      ["client-sync", "error", "CLERK_UNAVAILABLE", "1"],
      ["client-sync", "unchanged", "", "1"],
      ["webhook", "updated", "", "1"],
    ]);
  });
});
