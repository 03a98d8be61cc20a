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

import { createPostgresClerkBudget } from "clerk-user-sync/server";
import { mintSessionToken } from "~/test/clerk-session";
import { integrationHarness } from "~/test/integration-harness";
import { clerkApiUrl, createClerkBackend } from "~/test/mocks/clerk-backend";
import { sendThroughApp, trpcMutation } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const adminKey = randomBytes(32).toString("hex");
const clerk = createClerkBackend();
const countHandler = http.get(`${clerkApiUrl()}/v1/users/count`, () =>
  HttpResponse.json({ object: "total_count", total_count: clerk.users.size }, { headers: { "Content-Type": "application/json" } }),
);
const server = setupServer(countHandler, ...clerk.handlers);
const testDb = integrationHarness("user_sync_operations", server, { reset: () => clerk.reset(), app: true });
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

  it("turns a Clerk instance mismatch seen by user.sync into a failing health view (configOk false)", async () => {
    clerk.setUser(ada);
    // An app process started with another instance's secret key.
    clerk.setInstance("other");
    vi.resetModules();
    const otherTrpc = (await import("~/app/api/trpc/[trpc]/route")).POST;
    const otherHealth = (await import("~/app/api/admin/user-sync/health/route")).GET;
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const response = await trpcMutation(otherTrpc, "user.sync", { token: mintSessionToken({ userId: ada.id }) });
      expect(response.status).toBe(500);
    } finally {
      errors.mockRestore();
    }
    const report = await readHealth(otherHealth);
    expect(report.status).toBe("failing");
    expect(report.configOk).toBe(false);
    expect(report.problems[0]).toMatch(/^config: CLERK_INSTANCE_MISMATCH: CLERK_SECRET_KEY .*another Clerk instance/);
    expect(JSON.stringify(report)).not.toContain(process.env.CLERK_SECRET_KEY);
  });
});
