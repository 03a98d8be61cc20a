/**
 * The console's reconciliation and users table through the app: the real src/proxy.ts
 * (clerkMiddleware), the tRPC route, the host's plugin instance, the real Clerk Backend API
 * client against msw (a user directory whose list requests a test can hold) and PostgreSQL.
 */
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import type { ConsoleReconcileRun, ConsoleUsersPage } from "~/server/console";
import { clerkApiUrl, clerkUserJson, createClerkUserDirectory, mintSessionToken } from "clerk-user-sync/testing";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { sendThroughApp, trpcMutation, type TrpcEnvelope } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const admin = { id: "user_admin", email: "margaret@example.com", firstName: "Margaret", updatedAtMs: 1_000 };
const adminInClerk = http.get(`${clerkApiUrl()}/v1/users/${admin.id}`, () =>
  HttpResponse.json({ ...clerkUserJson(admin), public_metadata: { role: "admin" } }),
);
const directory = createClerkUserDirectory();
const server = setupServer(adminInClerk, ...directory.handlers());
let testDb: TestDatabase;
let route: { GET: Route; POST: Route };
const adminToken = () => mintSessionToken({ userId: admin.id });

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("admin_reconcile");
  useDatabaseForApp(testDb.url);
  // The app's Clerk instance: the key id msw's JWKS serve for this instance.
  process.env.CLERK_INSTANCE_ID = "ins_test";
  route = await import("~/app/api/trpc/[trpc]/route");
});
beforeEach(async () => {
  directory.reset();
  await testDb.truncate();
  directory.add({ id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 2_000 });
  directory.add({ id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 2_000 });
  directory.add({ id: "user_alan", email: "alan@example.com", firstName: "Alan", updatedAtMs: 2_000 });
  // Alan's row is behind Clerk (stale); Ada and Grace have none (missing).
  await testDb.client`insert into users (id, email, first_name, clerk_updated_at) values ('user_alan', 'alan@old.example.com', 'Alan', 1000)`;
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  delete process.env.CLERK_INSTANCE_ID;
  await testDb.close();
});

async function query<T>(procedure: string, options: { token?: string; input?: unknown } = {}) {
  const input = options.input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: options.input }))}`;
  const response = await sendThroughApp(route.GET, `/api/trpc/${procedure}${input}`, {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
  const json = (await response.json()) as TrpcEnvelope;
  return { status: response.status, data: json.result?.data.json as T, error: json.error };
}

const lastRun = async () => (await query<ConsoleReconcileRun | null>("admin.lastReconcileRun", { token: adminToken() })).data;

async function finished(runId: string) {
  await expect.poll(async () => (await lastRun())?.status, { timeout: 20_000 }).toBe("succeeded");
  const run = (await lastRun())!;
  expect(run.id).toBe(runId);
  return run;
}

describe("admin.startReconcile and admin.lastReconcileRun", () => {
  it("a dry run answers its run id and row at once, goes on in the server, and its row shows the diff per user; no user row is written", async () => {
    expect(await lastRun()).toBeNull();
    // Clerk holds its list: the answer cannot have waited for the walk.
    const release = directory.hold();
    const started = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: true } });
    expect(started.status).toBe(200);
    const { runId, run: startedRun } = started.json.result?.data.json as { runId: string; run: ConsoleReconcileRun };
    expect(startedRun).toMatchObject({ id: runId, dryRun: true, status: "running", interrupted: false, walked: 0 });
    release();

    const run = await finished(runId);
    expect(run).toMatchObject({ dryRun: true, mode: "full", walked: 3, clerkTotal: 3, counts: { missing: 2, stale: 1, deleted: 0, unchanged: 0 }, truncated: false });
    expect(run.changes.missing.map((c) => c.userId).sort()).toEqual(["user_ada", "user_grace"]);
    // Field names only (never values): Alan's email differs, his first name does not.
    expect(run.changes.stale).toEqual([{ userId: "user_alan", kind: "stale", fields: expect.arrayContaining(["email"]) as string[] }]);
    expect(run.changes.stale[0]?.fields).not.toContain("firstName");
    expect((await testDb.client<{ id: string }[]>`select id from users order by id`).map((r) => r.id)).toEqual(["user_alan"]);
  });

  it("a second start while a run holds the lease is CONFLICT (409) at once, naming that run; the first run then applies", async () => {
    // The first run's list request waits here, so it holds the lock until released.
    const release = directory.hold();
    const first = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: false } });
    expect(first.status).toBe(200);
    const { runId } = first.json.result?.data.json as { runId: string };

    const second = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: true } });
    expect(second.status).toBe(409);
    expect(second.json.error?.json.data.code).toBe("CONFLICT");
    expect(second.json.error?.json.message).toContain(`an apply run (full) ${runId}`);
    expect((await lastRun())?.status).toBe("running");

    release();
    const run = await finished(runId);
    expect(run.counts).toEqual({ missing: 2, stale: 1, deleted: 0, unchanged: 0 });
    const rows = await testDb.client`select id, email from users where deleted_at is null order by id`;
    expect(rows).toEqual([
      { id: "user_ada", email: "ada@example.com" },
      { id: "user_alan", email: "alan@example.com" },
      { id: "user_grace", email: "grace@example.com" },
    ]);
  });

  it("a run left `running` by a process that stopped (no live lease) is shown as interrupted; one holding the lease is not", async () => {
    await testDb.client`
      insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, walked, clerk_total)
      values ('run_stopped', 'full', false, 'running', 0, 500, 1200)`;
    expect(await lastRun()).toMatchObject({ id: "run_stopped", status: "running", interrupted: true });

    const release = directory.hold();
    const started = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: false } });
    // The new apply run resumes the stopped one (same mode) and holds the lock while Clerk's list is held.
    expect(started.json.result?.data.json).toMatchObject({ runId: "run_stopped", run: { id: "run_stopped", status: "running", interrupted: false } });
    expect(await lastRun()).toMatchObject({ id: "run_stopped", status: "running", interrupted: false });
    release();
    await finished("run_stopped");
  });

  it("a mass deletion the guard refused is shown with its count and limit; an admin's confirmation of that count applies it", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `user_${String(i).padStart(2, "0")}`);
    await testDb.client`insert into users (id, email, clerk_updated_at) select id, id || '@example.com', 1 from unnest(${ids}::text[]) as id`;
    const first = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: false } });
    const { runId } = first.json.result?.data.json as { runId: string };
    await expect.poll(async () => (await lastRun())?.status, { timeout: 20_000 }).toBe("refused");
    expect(await lastRun()).toMatchObject({ id: runId, errorCode: "MASS_DELETION_REFUSED", wouldDelete: 30, deletionLimit: 10, counts: { missing: 2, stale: 1, deleted: 0 } });
    expect((await testDb.client`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe(33);

    const confirmed = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: false, allowDeletionsUpTo: 30 } });
    const { runId: confirmedRunId } = confirmed.json.result?.data.json as { runId: string };
    expect((await finished(confirmedRunId)).counts.deleted).toBe(30);
    expect((await testDb.client`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe(3);
  });

  it("refuses bad input (400) and starts nothing", async () => {
    const bad = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: "yes" } });
    expect(bad.status).toBe(400);
    const dryWithDeletions = await trpcMutation(route.POST, "admin.startReconcile", { token: adminToken(), input: { dryRun: true, allowDeletionsUpTo: 5 } });
    expect(dryWithDeletions.status).toBe(400);
    expect(await lastRun()).toBeNull();
  });
});

describe("admin.users", () => {
  it("lists live users newest first, ten per page, with their tier", async () => {
    for (let i = 0; i < 11; i++) {
      await testDb.client`insert into users (id, email, first_name, clerk_updated_at, created_at) values (${`user_${i}`}, ${`u${i}@example.com`}, 'U', 1000, now() + ${`${i} seconds`}::interval)`;
    }
    await testDb.client`update users set tier = 'PRO' where id = 'user_10'`;
    await testDb.client`update users set deleted_at = now() where id = 'user_alan'`;
    const first = await query<ConsoleUsersPage>("admin.users", { token: adminToken(), input: { page: 0 } });
    expect(first.status).toBe(200);
    expect(first.data.total).toBe(11);
    expect(first.data.users).toHaveLength(10);
    expect(first.data.users[0]).toMatchObject({ id: "user_10", email: "u10@example.com", name: "U", tier: "PRO" });
    const second = await query<ConsoleUsersPage>("admin.users", { token: adminToken(), input: { page: 1 } });
    expect(second.data.users.map((u) => u.id)).toEqual(["user_0"]);
  });
});

describe("the console's data calls for anyone but an admin", () => {
  it("are 401 without a session and 404 for a non-admin; nothing starts", async () => {
    const ada = mintSessionToken({ userId: "user_ada" });
    for (const [token, status] of [
      [undefined, 401],
      [ada, 404],
    ] as const) {
      expect((await query("admin.lastReconcileRun", { token })).status).toBe(status);
      expect((await query("admin.users", { token, input: { page: 0 } })).status).toBe(status);
      expect((await trpcMutation(route.POST, "admin.startReconcile", { token, input: { dryRun: false } })).status).toBe(status);
    }
    expect(await lastRun()).toBeNull();
    expect(await testDb.client`select id from user_sync_reconcile_runs`).toEqual([]);
  });
});
