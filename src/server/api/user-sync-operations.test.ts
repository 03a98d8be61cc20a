/**
 * The host's user sync as operators see it: `user.sync` over HTTP (src/proxy.ts, the tRPC
 * route, the real PostgreSQL server, msw for Clerk) drawing from the one Clerk budget in
 * PostgreSQL, and its write attempts reaching the admin health view through persisted telemetry.
 */
import { randomBytes } from "node:crypto";

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { createPostgresClerkBudget } from "clerk-user-sync/server/advanced";
import { clerkApiUrl, createClerkBackend, mintSessionToken } from "clerk-user-sync/testing";
import { integrationHarness } from "~/test/app-database";
import { sendThroughApp, trpcMutation } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const adminKey = randomBytes(32).toString("hex");
const clerk = createClerkBackend();
let countCalls = 0;
const countHandler = http.get(`${clerkApiUrl()}/v1/users/count`, () => {
  countCalls++;
  return HttpResponse.json({ object: "total_count", total_count: clerk.users.size }, { headers: { "Content-Type": "application/json" } });
});
const server = setupServer(countHandler, ...clerk.handlers);
const testDb = integrationHarness("user_sync_operations", server, {
  reset: () => {
    clerk.reset();
    countCalls = 0;
  },
  app: true,
});
let trpc: Route;
let health: Route;

beforeAll(async () => {
  process.env.ADMIN_API_KEY = adminKey;
  trpc = (await import("~/app/api/trpc/[trpc]/route")).POST;
  health = (await import("~/app/api/admin/user-sync/health/route")).GET;
});
afterAll(() => {
  delete process.env.ADMIN_API_KEY;
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };

function sync(userId = ada.id) {
  return trpcMutation(trpc, "user.sync", { token: mintSessionToken({ userId }) });
}

type Health = {
  status: string;
  clerkUsers: number | null;
  clerkUsersReadAt: string | null;
  configOk: boolean;
  problems: string[];
  selfHealLastHour: number;
  errorsLastHour: number;
  outcomesLastDay: Record<string, Record<string, number>>;
};

async function readHealth(route = health) {
  const response = await sendThroughApp(route, "/api/admin/user-sync/health", { headers: { authorization: `Bearer ${adminKey}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Health;
}

describe("Clerk's user count in the health view", () => {
  it("is read once for every instance within its cache period (60 s), and the report says when it was read", async () => {
    clerk.setUser(ada);
    const beforeMs = Date.now();
    const first = await readHealth();
    expect(countCalls).toBe(1);
    expect(first.clerkUsers).toBe(1);
    expect(Date.parse(first.clerkUsersReadAt!)).toBeGreaterThanOrEqual(beforeMs - 1_000);

    // Another app instance, a moment later and after a sign-up: the count read by the first, with its time.
    clerk.setUser({ ...ada, id: "user_grace" });
    vi.resetModules();
    const healthOnB = (await import("~/app/api/admin/user-sync/health/route")).GET;
    const second = await readHealth(healthOnB);
    expect(countCalls).toBe(1);
    expect(second).toMatchObject({ clerkUsers: 1, clerkUsersReadAt: first.clerkUsersReadAt });

    // Once the period has passed (the read moved back by 61 s here), the next check reads Clerk again.
    await testDb.client`update user_sync_clerk_cache set read_at = read_at - interval '61 seconds' where key = 'user_count'`;
    const third = await readHealth(healthOnB);
    expect(countCalls).toBe(2);
    expect(third.clerkUsers).toBe(2);
    expect(Date.parse(third.clerkUsersReadAt!)).toBeGreaterThan(Date.parse(first.clerkUsersReadAt!));
  });
});

describe("user.sync and the shared Clerk budget, through the app", () => {
  it("answers 429 with Retry-After, without calling Clerk, while another instance's 429 pauses the budget", async () => {
    clerk.setUser(ada);
    // Another app instance saw Clerk's 429 with Retry-After: 30 (the host's budget is named "clerk").
    const otherInstanceBudget = createPostgresClerkBudget({ db: () => Promise.resolve(testDb.db), requestsPerWindow: 1000 });
    await otherInstanceBudget.pause(30);

    const response = await sync();
    expect(response.status).toBe(429);
    expect(response.json.error?.json.data.code).toBe("TOO_MANY_REQUESTS");
    const retryAfter = Number(response.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(28);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(clerk.getUserCalls()).toBe(0);
    expect(await testDb.client`select id from users`).toHaveLength(0);

    const report = await readHealth();
    expect(report.errorsLastHour).toBe(1);
    expect(report.outcomesLastDay).toEqual({ "client-sync": { error: 1 } });
    const stats = await testDb.client`select clerk_fetched, error_code from user_sync_write_stats`;
    expect(stats).toEqual([{ clerk_fetched: false, error_code: "CLERK_RATE_LIMITED" }]);
  });

  it("pauses the shared budget on Clerk's own 429, so the next sync does not call Clerk either", async () => {
    clerk.setUser(ada);
    clerk.setFault({ kind: "status", status: 429, retryAfterSeconds: 20 });
    expect((await sync()).status).toBe(429);
    expect(clerk.getUserCalls()).toBe(1);
    clerk.setFault(null);
    const second = await sync();
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(18);
    expect(clerk.getUserCalls()).toBe(1);
    const [row] = await testDb.client<{ paused_for_ms: number }[]>`
      select (paused_until_ms - extract(epoch from clock_timestamp()) * 1000)::float8 as paused_for_ms from user_sync_clerk_budget where name = 'clerk'`;
    expect(row?.paused_for_ms).toBeGreaterThan(18_000);
    // Both attempts failed; only the first reached Clerk.
    expect((await readHealth()).outcomesLastDay).toEqual({ "client-sync": { error: 2 } });
    const stats = await testDb.client`select clerk_fetched, count::int from user_sync_write_stats order by clerk_fetched`;
    expect(stats).toEqual([
      { clerk_fetched: false, count: 1 },
      { clerk_fetched: true, count: 1 },
    ]);
  });

  it("counts a healing sync in the health view (persisted telemetry, flushed by the health check)", async () => {
    clerk.setUser(ada);
    expect((await sync()).status).toBe(200);
    const report = await readHealth();
    expect(report.selfHealLastHour).toBe(1);
    expect(report.outcomesLastDay).toEqual({ "client-sync": { created: 1 } });
  });

  it("a Clerk instance mismatch seen by instance A makes instance B's health view failing (configOk false), until a later proof clears it", async () => {
    clerk.setUser(ada);
    // Instance B (this file's app) is healthy and has seen nothing wrong.
    expect(await readHealth()).toMatchObject({ status: "healthy", configOk: true, problems: [] });
    // Instance A: an app process started while the Backend API answers as another Clerk instance.
    clerk.setInstance("other");
    vi.resetModules();
    const trpcOnA = (await import("~/app/api/trpc/[trpc]/route")).POST;
    const healthOnA = (await import("~/app/api/admin/user-sync/health/route")).GET;
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const response = await trpcMutation(trpcOnA, "user.sync", { token: mintSessionToken({ userId: ada.id }) });
      expect(response.status).toBe(500);
    } finally {
      errors.mockRestore();
    }
    for (const report of [await readHealth(), await readHealth(healthOnA)]) {
      expect(report.status).toBe("failing");
      expect(report.configOk).toBe(false);
      expect(report.problems[0]).toMatch(/^config: CLERK_INSTANCE_MISMATCH: CLERK_SECRET_KEY .*another Clerk instance.* \(last seen \d{4}-\d\d-\d\dT/);
      expect(JSON.stringify(report)).not.toContain(process.env.CLERK_SECRET_KEY);
    }
    const [recorded] = await testDb.client<{ code: string; first_seen_at: Date }[]>`select code, first_seen_at from user_sync_config_problems`;
    expect(recorded?.code).toBe("CLERK_INSTANCE_MISMATCH");

    // The Backend API answers as this instance again (the proxy re-routed back): A's next sync
    // succeeds and proves the instance on JWKS fetched for it, which clears the problem for every instance.
    clerk.setInstance("this");
    const jwksBefore = clerk.jwksCalls();
    expect((await trpcMutation(trpcOnA, "user.sync", { token: mintSessionToken({ userId: ada.id }) })).status).toBe(200);
    expect(clerk.jwksCalls()).toBe(jwksBefore + 1);
    expect(await readHealth()).toMatchObject({ status: "healthy", configOk: true, problems: [] });
    expect(await readHealth(healthOnA)).toMatchObject({ status: "healthy", configOk: true, problems: [] });
  });

  it("a rejected secret key on one instance shows on every instance, and a later proof on another instance clears it", async () => {
    clerk.setUser(ada);
    vi.resetModules();
    const previousKey = process.env.CLERK_SECRET_KEY;
    process.env.CLERK_SECRET_KEY = "sk_live_revoked_key_of_instance_a";
    let trpcOnA: Route;
    try {
      trpcOnA = (await import("~/app/api/trpc/[trpc]/route")).POST;
    } finally {
      process.env.CLERK_SECRET_KEY = previousKey;
    }
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      expect((await trpcMutation(trpcOnA, "user.sync", { token: mintSessionToken({ userId: ada.id }) })).status).toBe(500);
    } finally {
      errors.mockRestore();
    }
    const report = await readHealth();
    expect(report).toMatchObject({ status: "failing", configOk: false });
    expect(report.problems[0]).toMatch(/^config: CLERK_KEY_REJECTED: Clerk's Backend API rejected CLERK_SECRET_KEY \(401\)/);
    expect(JSON.stringify(report)).not.toContain("sk_live_revoked_key_of_instance_a");

    // Another instance, started with the right key, proves the instance for a genuine deletion:
    // that proof clears the sighting for every instance.
    vi.resetModules();
    const trpcOnC = (await import("~/app/api/trpc/[trpc]/route")).POST;
    clerk.setUser({ ...ada, id: "user_gone" });
    expect((await trpcMutation(trpcOnC, "user.sync", { token: mintSessionToken({ userId: "user_gone" }) })).status).toBe(200);
    clerk.users.delete("user_gone");
    const deleted = await trpcMutation(trpcOnC, "user.sync", { token: mintSessionToken({ userId: "user_gone" }) });
    expect((deleted.json.result?.data.json as { outcome: string }).outcome).toBe("deleted");
    expect(await readHealth()).toMatchObject({ status: "healthy", configOk: true });
  });
});
