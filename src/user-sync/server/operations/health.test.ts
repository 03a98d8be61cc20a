/**
 * The health view on the real PostgreSQL server, with the real Clerk Backend API client asking
 * msw for the user count: one fixture per status and per problem, with the expected `status`
 * and `problems`.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkBackend, testSchema as schema, testUsers as users } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createClerkBackendApi } from "../clerk/backend-api";
import { createPostgresClerkBudget, withClerkBudget } from "../clerk/budget";
import { createClerkReadCache } from "../clerk/cache";
import { createUserSyncHealth, type UserSyncHealthOptions } from "./health";
import { problemLine, type HealthReport } from "./health-rules";
import { createWriteTelemetry } from "./telemetry";

const clerk = createClerkBackend();
let clerkUserCount = 0;
let countCalls = 0;
let countFault: number | null = null;
// Registered before /v1/users/:id, which would otherwise take "count" for a user id.
const countHandler = http.get(`${clerkApiUrl()}/v1/users/count`, () => {
  countCalls++;
  if (countFault) {
    return new HttpResponse(JSON.stringify({ errors: [{ code: "internal_clerk_error", message: "fault", long_message: "fault" }] }), {
      status: countFault,
      headers: { "Content-Type": "application/json" },
    });
  }
  return new HttpResponse(JSON.stringify({ object: "total_count", total_count: clerkUserCount }), { status: 200, headers: { "Content-Type": "application/json" } });
});
const server = setupServer(countHandler, ...clerk.handlers);
let testDb: TestDatabase;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("health");
});
beforeEach(async () => {
  clerk.reset();
  clerkUserCount = 0;
  countCalls = 0;
  countFault = null;
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

// The plugin's own Backend API client, against msw.
const clerkApi = createClerkBackendApi({ secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() }, { timeoutMs: 2_000 });
const minuteMs = 60_000;
const hourMs = 60 * minuteMs;

function health(options: Partial<UserSyncHealthOptions> = {}) {
  return createUserSyncHealth({
    db: () => Promise.resolve(testDb.db),
    users,
    countClerkUsers: () => clerkApi.getUserCount(),
    webhooksConfigured: true,
    clerkCountCacheMs: 0,
    ...options,
  });
}

/** The mirror: `live` rows and `tombstones`, written as the write path leaves them. */
async function seedUsers(live: number, tombstones = 0) {
  for (let i = 0; i < live; i++) {
    await testDb.client`insert into users (id, email, clerk_updated_at) values (${`user_live_${i}`}, ${`live${i}@example.com`}, 1000)`;
  }
  for (let i = 0; i < tombstones; i++) {
    await testDb.client`insert into users (id, clerk_updated_at, deleted_at) values (${`user_gone_${i}`}, 1000, now())`;
  }
}

/** One webhook delivery received `agoMs` ago, committed `lagMs` after its event happened. */
async function seedDelivery(svixId: string, agoMs: number, options: { lagMs?: number; deadLetter?: boolean } = {}) {
  const receivedAt = new Date(Date.now() - agoMs);
  if (options.deadLetter) {
    await testDb.client`
      insert into clerk_webhook_events (svix_id, event_type, outcome, dead_letter_reason, received_at)
      values (${svixId}, 'user.updated', 'dead_letter', 'malformed_user: id: invalid_type', ${receivedAt.toISOString()})`;
    return;
  }
  const lagMs = options.lagMs ?? 500;
  await testDb.client`
    insert into clerk_webhook_events (svix_id, event_type, clerk_user_id, event_timestamp_ms, outcome, received_at, processed_at)
    values (${svixId}, 'user.updated', 'user_live_0', ${receivedAt.getTime() - lagMs}, 'updated', ${receivedAt.toISOString()}, ${receivedAt.toISOString()})`;
}

/** Write attempts as persisted telemetry holds them: `count` attempts `agoMs` ago. */
async function seedWrites(source: string, outcome: string, count: number, agoMs: number, options: { clerkFetched?: boolean; errorCode?: string } = {}) {
  const at = Date.now() - agoMs;
  const bucketStart = new Date(at - (at % minuteMs));
  await testDb.client`
    insert into user_sync_write_stats (bucket_start, source, outcome, clerk_fetched, error_code, count, duration_ms_total, duration_ms_max)
    values (${bucketStart.toISOString()}, ${source}, ${outcome}, ${options.clerkFetched ?? source === "client-sync"}, ${options.errorCode ?? ""}, ${count}, ${count * 20}, 40)
    on conflict on constraint user_sync_write_stats_pk do update set count = user_sync_write_stats.count + excluded.count`;
}

/** A steady, healthy app: Clerk and the mirror agree, webhooks flow, a few self-heals. */
async function seedHealthyApp() {
  clerkUserCount = 5;
  await seedUsers(5, 1);
  await seedDelivery("msg_recent", 10 * minuteMs, { lagMs: 1_500 });
  await seedDelivery("msg_older", 3 * hourMs, { lagMs: 300 });
  await seedWrites("client-sync", "created", 3, 5 * minuteMs);
  await seedWrites("client-sync", "touched", 40, 20 * minuteMs);
  await seedWrites("client-sync", "unchanged", 7, 20 * minuteMs, { clerkFetched: false });
  await seedWrites("client-sync", "updated", 4, 5 * hourMs);
  await seedWrites("webhook", "updated", 2, 10 * minuteMs);
}

function codes(report: HealthReport) {
  return report.problemDetails.map((problem) => problem.code);
}

describe("health", () => {
  it("healthy: every figure from PostgreSQL and Clerk, no problems", async () => {
    await seedHealthyApp();
    const report = await health({
      lastReconcile: () =>
        Promise.resolve({ runId: "run_1", finishedAt: new Date("2026-11-22T03:00:00Z"), dryRun: false, counts: { missing: 1, stale: 0, deleted: 0, unchanged: 4 } }),
    }).check();
    expect(report).toEqual({
      status: "healthy",
      clerkUsers: 5,
      clerkUsersReadAt: expect.any(String) as string,
      liveUsers: 5,
      tombstones: 1,
      discrepancy: 0,
      lastWebhookAt: expect.any(String) as string,
      // p95 of two deliveries (300 ms, 1500 ms), interpolated.
      webhookLagMs: 1440,
      selfHealLastHour: 3,
      selfHealLastDay: 7,
      outcomesLastDay: {
        "client-sync": { created: 3, touched: 40, unchanged: 7, updated: 4 },
        webhook: { updated: 2 },
      },
      errorsLastHour: 0,
      deadLetters: 0,
      lastReconcile: { runId: "run_1", finishedAt: "2026-11-22T03:00:00.000Z", dryRun: false, counts: { missing: 1, stale: 0, deleted: 0, unchanged: 4 } },
      configOk: true,
      problems: [],
      problemDetails: [],
    });
    expect(Math.abs(Date.parse(report.lastWebhookAt!) - (Date.now() - 10 * minuteMs))).toBeLessThan(5_000);
  });

  const fixtures: { name: string; seed: () => Promise<void>; options?: Partial<UserSyncHealthOptions>; status: HealthReport["status"]; problems: string[] }[] = [
    {
      name: "discrepancy: Clerk has 16 more users than the mirror",
      seed: async () => {
        await seedHealthyApp();
        clerkUserCount = 21;
      },
      status: "warning",
      problems: ["discrepancy"],
    },
    {
      name: "no discrepancy problem at exactly 10 users apart",
      seed: async () => {
        await seedHealthyApp();
        clerkUserCount = 15;
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "self-heal: 60 repairs in the last hour while no webhook came for 2 h",
      seed: async () => {
        clerkUserCount = 5;
        await seedUsers(5);
        await seedDelivery("msg_old", 2 * hourMs);
        await seedWrites("client-sync", "created", 30, 10 * minuteMs);
        await seedWrites("client-sync", "updated", 25, 20 * minuteMs);
        await seedWrites("client-sync", "restored", 5, 30 * minuteMs);
      },
      status: "warning",
      problems: ["self_heal_without_webhooks"],
    },
    {
      name: "no self-heal problem while webhooks flow (sign-ups racing their webhooks)",
      seed: async () => {
        clerkUserCount = 5;
        await seedUsers(5);
        await seedDelivery("msg_now", 2 * minuteMs);
        await seedWrites("client-sync", "created", 60, 10 * minuteMs);
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "touched and unchanged syncs are not self-heals (Clerk bumps updated_at on every sign-in)",
      seed: async () => {
        clerkUserCount = 5;
        await seedUsers(5);
        await seedDelivery("msg_old", 2 * hourMs);
        await seedWrites("client-sync", "touched", 500, 10 * minuteMs);
        await seedWrites("client-sync", "unchanged", 500, 10 * minuteMs);
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "dead letters: one signed delivery could not be applied yesterday",
      seed: async () => {
        await seedHealthyApp();
        await seedDelivery("msg_dead", 26 * hourMs, { deadLetter: true });
      },
      status: "warning",
      problems: ["dead_letters"],
    },
    {
      name: "a dead letter counts until an operator clears it, however old",
      seed: async () => {
        await seedHealthyApp();
        await seedDelivery("msg_dead_old", 40 * 24 * hourMs, { deadLetter: true });
      },
      status: "warning",
      problems: ["dead_letters"],
    },
    {
      name: "a cleared dead letter no longer counts",
      seed: async () => {
        await seedHealthyApp();
        await seedDelivery("msg_dead_cleared", hourMs, { deadLetter: true });
        await testDb.client`delete from clerk_webhook_events where svix_id = 'msg_dead_cleared'`;
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "a dead letter is not a processed delivery: silence still shows",
      seed: async () => {
        clerkUserCount = 2;
        await seedUsers(2);
        await seedDelivery("msg_ancient", 30 * hourMs);
        await seedDelivery("msg_dead_recent", 10 * minuteMs, { deadLetter: true });
        await seedWrites("client-sync", "touched", 3, hourMs);
      },
      status: "failing",
      problems: ["webhook_silence", "dead_letters"],
    },
    {
      name: "webhook lag: recent deliveries commit 20 minutes after their event",
      seed: async () => {
        await seedHealthyApp();
        for (let i = 0; i < 5; i++) await seedDelivery(`msg_late_${i}`, (i + 1) * minuteMs, { lagMs: 20 * minuteMs });
      },
      status: "warning",
      problems: ["webhook_lag"],
    },
    {
      name: "errors: 51 failed write attempts in the last hour",
      seed: async () => {
        await seedHealthyApp();
        await seedWrites("client-sync", "error", 51, 10 * minuteMs, { errorCode: "CLERK_UNAVAILABLE" });
      },
      status: "warning",
      problems: ["errors"],
    },
    {
      name: "Clerk's count unavailable: the figures PostgreSQL has, and a warning",
      seed: async () => {
        await seedHealthyApp();
        countFault = 503;
      },
      status: "warning",
      problems: ["clerk_count_unavailable"],
    },
    {
      name: "webhook silence: configured, users syncing, no delivery for 30 h",
      seed: async () => {
        clerkUserCount = 5;
        await seedUsers(5);
        await seedDelivery("msg_ancient", 30 * hourMs);
        await seedWrites("client-sync", "touched", 12, 3 * hourMs);
      },
      status: "failing",
      problems: ["webhook_silence"],
    },
    {
      name: "webhook silence: configured and never delivered in two days of syncs",
      seed: async () => {
        clerkUserCount = 2;
        await seedUsers(2);
        await seedWrites("client-sync", "created", 1, 47 * hourMs);
        await seedWrites("client-sync", "created", 1, 3 * hourMs);
      },
      status: "failing",
      problems: ["webhook_silence"],
    },
    {
      name: "no webhook silence yet on a fresh install: never delivered, but watched for an hour only",
      seed: async () => {
        clerkUserCount = 2;
        await seedUsers(2);
        await seedWrites("client-sync", "created", 2, hourMs);
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "no webhook silence when webhooks are not configured (client sync and reconciliation only)",
      seed: async () => {
        clerkUserCount = 2;
        await seedUsers(2);
        await seedWrites("client-sync", "created", 2, 3 * hourMs);
      },
      options: { webhooksConfigured: false },
      status: "healthy",
      problems: [],
    },
    {
      name: "no webhook silence when nobody synced either (a quiet app)",
      seed: async () => {
        clerkUserCount = 2;
        await seedUsers(2);
        await seedDelivery("msg_ancient", 30 * hourMs);
      },
      status: "healthy",
      problems: [],
    },
    {
      name: "Clerk instance mismatch: failing, configOk false",
      seed: seedHealthyApp,
      options: { configProblems: () => ["instance_mismatch: CLERK_INSTANCE_ID is not the instance of CLERK_SECRET_KEY"] },
      status: "failing",
      problems: ["config"],
    },
    {
      name: "several problems at once: failing first, then warnings",
      seed: async () => {
        clerkUserCount = 40;
        await seedUsers(5);
        await seedDelivery("msg_last", 25 * hourMs);
        await seedDelivery("msg_dead", 2 * hourMs, { deadLetter: true });
        await seedWrites("client-sync", "created", 70, 10 * minuteMs);
      },
      status: "failing",
      problems: ["webhook_silence", "discrepancy", "self_heal_without_webhooks", "dead_letters"],
    },
  ];

  it.each(fixtures)("$status — $name", async ({ seed, options, status, problems }) => {
    await seed();
    const report = await health(options).check();
    expect({ status: report.status, problems: codes(report) }).toEqual({ status, problems });
    expect(report.configOk).toBe(!problems.includes("config"));
    // The lines are the typed problems, in the same order; the worst severity is the status.
    expect(report.problems).toEqual(report.problemDetails.map(problemLine));
    if (report.problemDetails.length > 0) expect(report.problemDetails[0]!.severity).toBe(status);
  });

  it("reports the figures behind a warning in its problem line", async () => {
    await seedHealthyApp();
    clerkUserCount = 21;
    const report = await health().check();
    expect(report.problems).toEqual([
      "discrepancy: Clerk has 21 users, the mirror 5 live rows (16 apart, threshold 10); run a reconciliation",
    ]);
    expect(report.discrepancy).toBe(16);
  });

  it("without Clerk's count, reports null instead of a guess", async () => {
    await seedHealthyApp();
    countFault = 503;
    const report = await health().check();
    expect(report).toMatchObject({ clerkUsers: null, discrepancy: null, liveUsers: 5 });
    expect(report.problems).toEqual(["clerk_count_unavailable: CLERK_UNAVAILABLE"]);
    expect(report.problemDetails).toEqual([{ code: "clerk_count_unavailable", severity: "warning", message: "CLERK_UNAVAILABLE" }]);
  });

  it("asks Clerk for the count at most once per cache period, through the shared budget", async () => {
    await seedHealthyApp();
    const budget = createPostgresClerkBudget({ db: () => Promise.resolve(testDb.db), requestsPerWindow: 100 });
    const budgeted = withClerkBudget(clerkApi, budget, { maxWaitMs: 100 });
    const cached = health({ clerkCountCacheMs: 60_000, countClerkUsers: () => budgeted.getUserCount() });
    await cached.check();
    await cached.check();
    expect(countCalls).toBe(1);
    // A 429 elsewhere pauses the budget: an uncached health check does not call Clerk.
    await budget.pause(30);
    const report = await health({ countClerkUsers: () => budgeted.getUserCount() }).check();
    expect(countCalls).toBe(1);
    expect(report.problems).toEqual(["clerk_count_unavailable: CLERK_RATE_LIMITED"]);
  });

  it("says when Clerk's count was read: a count from a cache keeps its read time, and a failed read shows the last count with its time", async () => {
    await seedHealthyApp();
    const readAt = new Date(Date.now() - 42_000);
    let fail = false;
    const view = health({
      countClerkUsers: () => (fail ? Promise.reject(new Error("Clerk is down")) : Promise.resolve({ count: 5, readAt })),
    });
    expect(await view.check()).toMatchObject({ clerkUsers: 5, clerkUsersReadAt: readAt.toISOString(), problems: [] });
    fail = true;
    const report = await view.check();
    expect(report).toMatchObject({ clerkUsers: 5, clerkUsersReadAt: readAt.toISOString(), problems: ["clerk_count_unavailable: UNKNOWN"] });
  });

  it("reads Clerk's count again once a reconciliation finished after it was read: the figures never contradict the run's", async () => {
    await seedHealthyApp();
    // The app's composition: Clerk's count shared by every instance for 60 s (user_sync_clerk_cache).
    const cache = createClerkReadCache({ db: () => Promise.resolve(testDb.db) });
    const view = health({
      countClerkUsers: async (options) => {
        const entry = await cache.read("user_count", { periodMs: 60_000, claimMs: 5_000, readAfter: options?.readAfter }, () => clerkApi.getUserCount());
        return { count: entry.value, readAt: entry.readAt };
      },
    });
    expect(await view.check()).toMatchObject({ clerkUsers: 5, discrepancy: 0 });
    // A bulk import in Clerk: within the period the count is not asked again…
    clerkUserCount = 5_000;
    expect(await view.check()).toMatchObject({ clerkUsers: 5, discrepancy: 0 });
    expect(countCalls).toBe(1);
    // …until a reconciliation that saw them finishes.
    await testDb.client`
      insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, missing, stale, deleted, unchanged, finished_at)
      values ('run_dry', 'full', true, 'succeeded', 1, 4995, 0, 0, 5, now())`;
    const report = await view.check();
    expect(report).toMatchObject({ clerkUsers: 5_000, discrepancy: 4_995, lastReconcile: { runId: "run_dry", counts: { missing: 4_995 } } });
    expect(Date.parse(report.clerkUsersReadAt!)).toBeGreaterThan(Date.parse(report.lastReconcile!.finishedAt));
    expect(countCalls).toBe(2);
    await view.check();
    expect(countCalls).toBe(2);

    // The same with an instance's own cache period.
    clerkUserCount = 5_001;
    const ownCache = health({ clerkCountCacheMs: 60_000 });
    expect((await ownCache.check()).clerkUsers).toBe(5_001);
    clerkUserCount = 5_002;
    expect((await ownCache.check()).clerkUsers).toBe(5_001);
    await testDb.client`
      insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, missing, stale, deleted, unchanged, finished_at)
      values ('run_later', 'full', true, 'succeeded', 1, 4997, 0, 0, 5, now())`;
    expect((await ownCache.check()).clerkUsers).toBe(5_002);
  });

  it("counts this instance's not-yet-flushed writes", async () => {
    clerkUserCount = 0;
    let flushed = false;
    const report = await health({
      telemetry: {
        flush: async () => {
          await seedWrites("client-sync", "created", 2, 0);
          flushed = true;
        },
      },
    }).check();
    expect(flushed).toBe(true);
    expect(report.selfHealLastHour).toBe(2);
  });

  it("reads the last succeeded reconciliation from its table by default", async () => {
    await seedHealthyApp();
    await testDb.client`
      insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, missing, stale, deleted, unchanged, finished_at) values
        ('run_old', 'full', false, 'succeeded', 1, 1, 1, 1, 1, '2026-11-20T03:00:00Z'),
        ('run_last', 'full', true, 'succeeded', 1, 2, 3, 0, 40, '2026-11-22T03:00:00Z'),
        ('run_failed', 'full', false, 'failed', 1, 0, 0, 0, 0, '2026-11-23T03:00:00Z')`;
    const report = await health().check();
    expect(report.lastReconcile).toEqual({ runId: "run_last", finishedAt: "2026-11-22T03:00:00.000Z", dryRun: true, counts: { missing: 2, stale: 3, deleted: 0, unchanged: 40 } });
  });
});

describe("health: cheap and safe behind a pooler", () => {
  it("reads every PostgreSQL figure in one parameterised statement, on one connection at a time", async () => {
    await seedHealthyApp();
    const statements: { connection: number; query: string; parameters: unknown[] }[] = [];
    const client = postgres(testDb.url, {
      max: 10,
      onnotice: () => undefined,
      debug: (connection, query, parameters) => statements.push({ connection, query, parameters }),
    });
    try {
      const db = drizzle({ client, schema });
      const telemetry = createWriteTelemetry({ db: () => Promise.resolve(db), flushIntervalMs: 60_000 });
      telemetry.record({ source: "webhook", outcome: "updated", clerkFetched: false, changedData: true, durationMs: 3 });
      const report = await health({ db: () => Promise.resolve(db), telemetry }).check();
      expect(report.outcomesLastDay.webhook).toEqual({ updated: 3 });
      // postgres.js reads the array types once per new connection: not the check's.
      const checkStatements = statements.filter((s) => !s.query.includes("pg_catalog.pg_type"));
      console.info(`health check: ${checkStatements.length} statements (${checkStatements.map((s) => s.query.trim().split(/\s+/, 1)[0]).join(", ")}) on ${new Set(checkStatements.map((s) => s.connection)).size} connection(s)`);
      // This instance's flush (and the prune that follows a first flush), then the figures.
      expect(checkStatements.map((s) => s.query.trim().split(/\s+/, 1)[0]?.toLowerCase())).toEqual(["insert", "with", "select"]);
      expect(checkStatements[1]?.query).toContain("pg_try_advisory_xact_lock");
      // Every statement carries parameters: none goes over postgres.js's simple protocol.
      expect(checkStatements.every((s) => s.parameters.length > 0)).toBe(true);
      expect(new Set(checkStatements.map((s) => s.connection)).size).toBe(1);
    } finally {
      await client.end({ timeout: 5 });
    }
  });

  it("fails with DATABASE_UNAVAILABLE within its timeout when the database does not answer", async () => {
    await seedHealthyApp();
    // The users table is locked by another session: the figures statement waits.
    const locker = postgres(testDb.url, { max: 1, onnotice: () => undefined });
    try {
      const locked = locker.begin(async (tx) => {
        await tx`lock table users in access exclusive mode`;
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const startedAtMs = Date.now();
      const error = await health({ timeoutMs: 500 }).check().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE" });
      expect(Date.now() - startedAtMs).toBeLessThan(2_500);
      await locked;
    } finally {
      await locker.end({ timeout: 5 });
    }
  });
});
