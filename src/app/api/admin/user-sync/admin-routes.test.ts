/**
 * The admin API through the app: the real src/proxy.ts (clerkMiddleware), the route handlers,
 * the host's plugin instance and its env, the real Clerk Backend API client against msw and
 * the real PostgreSQL server.
 */
import { randomBytes } from "node:crypto";

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { clerkApiUrl, createClerkBackend, mintSessionToken } from "clerk-user-sync/testing";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { sendThroughApp } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const adminKey = randomBytes(32).toString("hex");
const previousKey = randomBytes(24).toString("base64url");
const clerk = createClerkBackend();
let clerkUserCount = 0;
const countHandler = http.get(`${clerkApiUrl()}/v1/users/count`, () =>
  new HttpResponse(JSON.stringify({ object: "total_count", total_count: clerkUserCount }), { status: 200, headers: { "Content-Type": "application/json" } }),
);
const server = setupServer(countHandler, ...clerk.handlers);
let testDb: TestDatabase;
let health: Route;
let reconcile: Route;
const logged: string[] = [];

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("admin_routes");
  useDatabaseForApp(testDb.url);
  process.env.ADMIN_API_KEY = adminKey;
  process.env.ADMIN_API_KEY_PREVIOUS = previousKey;
  // The app's Clerk instance: the key id msw's JWKS serve (reconciliation proves it before it writes).
  process.env.CLERK_INSTANCE_ID = "ins_test";
  health = (await import("./health/route")).GET;
  reconcile = (await import("./reconcile/route")).POST;
});
beforeEach(async () => {
  clerk.reset();
  clerkUserCount = 0;
  logged.length = 0;
  // Everything the app logs, to prove the key never appears in it.
  for (const level of ["info", "warn", "error", "log", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
  await testDb.truncate();
});
afterEach(() => {
  vi.restoreAllMocks();
  server.resetHandlers();
});
afterAll(async () => {
  server.close();
  delete process.env.ADMIN_API_KEY;
  delete process.env.CLERK_INSTANCE_ID;
  delete process.env.ADMIN_API_KEY_PREVIOUS;
  await testDb.close();
});

const endpoints = [
  { name: "GET health", route: () => health, path: "/api/admin/user-sync/health", method: "GET" },
  { name: "POST reconcile", route: () => reconcile, path: "/api/admin/user-sync/reconcile", method: "POST" },
] as const;

type Endpoint = (typeof endpoints)[number];

function send(endpoint: Endpoint, headers: Record<string, string> = {}, query = "") {
  return sendThroughApp(endpoint.route(), `${endpoint.path}${query}`, { method: endpoint.method, headers });
}

const sameLengthWrongKey = adminKey.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
const refusals: { case: string; headers: () => Record<string, string>; query?: string }[] = [
  { case: "no Authorization header", headers: () => ({}) },
  { case: "an empty Authorization header", headers: () => ({ authorization: "" }) },
  { case: "'Bearer' alone", headers: () => ({ authorization: "Bearer" }) },
  { case: "'Bearer ' with nothing after it", headers: () => ({ authorization: "Bearer " }) },
  { case: "a wrong key of the same length", headers: () => ({ authorization: `Bearer ${sameLengthWrongKey}` }) },
  { case: "a wrong key of another length", headers: () => ({ authorization: `Bearer ${adminKey}${adminKey}` }) },
  { case: "a prefix of the key", headers: () => ({ authorization: `Bearer ${adminKey.slice(0, 32)}` }) },
  { case: "the key with one character missing", headers: () => ({ authorization: `Bearer ${adminKey.slice(1)}` }) },
  { case: "the key with a space inside", headers: () => ({ authorization: `Bearer ${adminKey.slice(0, 10)} ${adminKey.slice(10)}` }) },
  { case: "two spaces before the key", headers: () => ({ authorization: `Bearer  ${adminKey}` }) },
  { case: "the key and more after a space", headers: () => ({ authorization: `Bearer ${adminKey} x` }) },
  { case: "the key under another scheme", headers: () => ({ authorization: `Basic ${adminKey}` }) },
  { case: "the bare key, no scheme", headers: () => ({ authorization: adminKey }) },
  { case: "the key in another header", headers: () => ({ "x-api-key": adminKey }) },
  { case: "the key in the query string", headers: () => ({}), query: `?key=${adminKey}` },
  { case: "the key as access_token in the query string", headers: () => ({}), query: `?access_token=${adminKey}` },
  { case: "a signed-in user's session token as the bearer", headers: () => ({ authorization: `Bearer ${mintSessionToken({ userId: "user_not_admin" })}` }) },
  {
    case: "a signed-in user's session cookie",
    headers: () => ({ cookie: `__session=${mintSessionToken({ userId: "user_not_admin" })}; __client_uat=${Math.floor(Date.now() / 1000) - 5}` }),
  },
];

describe("admin API authentication", () => {
  for (const endpoint of endpoints) {
    describe(endpoint.name, () => {
      it.each(refusals)("401 for $case", async ({ headers, query }) => {
        const response = await send(endpoint, headers(), query);
        expect(response.status).toBe(401);
        expect(response.headers.get("www-authenticate")).toBe('Bearer realm="user-sync-admin"');
        expect(response.headers.get("cache-control")).toBe("no-store");
        // One generic body whatever was wrong.
        expect(await response.json()).toEqual({ error: "unauthorized" });
        expect(logged.join("\n")).not.toContain(adminKey);
        expect(logged.join("\n")).not.toContain(adminKey.slice(0, 32));
      });
    });
  }

  it("accepts the key and the previous key on the health endpoint (200)", async () => {
    for (const key of [adminKey, previousKey]) {
      const response = await send(endpoints[0], { authorization: `Bearer ${key}` });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: "healthy", clerkUsers: 0, liveUsers: 0, problems: [] });
    }
    // A lower-case scheme is the same scheme (RFC 9110).
    expect((await send(endpoints[0], { authorization: `bearer ${adminKey}` })).status).toBe(200);
    expect(logged.join("\n")).not.toContain(adminKey);
    expect(logged.join("\n")).not.toContain(previousKey);
  });

  it("accepts the key and the previous key on the reconcile endpoint (200, a dry run by default)", async () => {
    // Clerk's user list, empty: the run walks one page and finds nothing to repair.
    server.use(http.get(`${clerkApiUrl()}/v1/users`, () => new HttpResponse("[]", { status: 200, headers: { "Content-Type": "application/json" } })));
    for (const key of [adminKey, previousKey]) {
      const response = await send(endpoints[1], { authorization: `Bearer ${key}` });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        dryRun: true,
        mode: "full",
        counts: { missing: 0, stale: 0, deleted: 0, unchanged: 0 },
        changes: [],
        truncated: false,
        // JWKS (the proof of instance), Clerk's count, one empty page.
        clerkRequests: 3,
      });
    }
    // Past authentication, bad parameters are the caller's error, not a server failure.
    const bad = await send(endpoints[1], { authorization: `Bearer ${adminKey}` }, "?dry_run=maybe");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "bad_request", message: "dry_run must be true or false" });
  });

  it("answers the health view from the app's real database and Clerk's count", async () => {
    clerkUserCount = 3;
    await testDb.client`insert into users (id, email, clerk_updated_at) values ('user_a', 'a@example.com', 1), ('user_b', 'b@example.com', 1)`;
    await testDb.client`insert into users (id, clerk_updated_at, deleted_at) values ('user_c', 1, now())`;
    // Clerk's count is shared by every instance for a minute, in PostgreSQL (emptied before each test).
    vi.resetModules();
    const fresh = (await import("./health/route")).GET;
    const beforeMs = Date.now();
    const response = await sendThroughApp(fresh, "/api/admin/user-sync/health", { headers: { authorization: `Bearer ${adminKey}` } });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { clerkUsersReadAt: string };
    expect(Date.parse(report.clerkUsersReadAt)).toBeGreaterThanOrEqual(beforeMs - 1_000);
    expect(report).toEqual({
      status: "healthy",
      clerkUsers: 3,
      clerkUsersReadAt: report.clerkUsersReadAt,
      liveUsers: 2,
      tombstones: 1,
      discrepancy: 1,
      lastWebhookAt: null,
      webhookLagMs: null,
      selfHealLastHour: 0,
      selfHealLastDay: 0,
      outcomesLastDay: {},
      errorsLastHour: 0,
      deadLetters: 0,
      lastReconcile: null,
      configOk: true,
      problems: [],
      problemDetails: [],
    });
  });
});

describe("admin API without a key", () => {
  it("answers 503 not configured, whatever is sent, without naming the variable", async () => {
    vi.resetModules();
    delete process.env.ADMIN_API_KEY;
    delete process.env.ADMIN_API_KEY_PREVIOUS;
    try {
      const unconfigured = {
        health: (await import("./health/route")).GET,
        reconcile: (await import("./reconcile/route")).POST,
      };
      for (const [route, path, method] of [
        [unconfigured.health, "/api/admin/user-sync/health", "GET"],
        [unconfigured.reconcile, "/api/admin/user-sync/reconcile", "POST"],
      ] as const) {
        for (const headers of [{}, { authorization: `Bearer ${adminKey}` }, { authorization: "Bearer " }] as Record<string, string>[]) {
          const response = await sendThroughApp(route, path, { method, headers });
          expect(response.status).toBe(503);
          const body = await response.text();
          expect(JSON.parse(body)).toEqual({ error: "not_configured", message: "The admin API is not configured" });
          expect(body).not.toContain("ADMIN_API_KEY");
        }
      }
    } finally {
      process.env.ADMIN_API_KEY = adminKey;
      process.env.ADMIN_API_KEY_PREVIOUS = previousKey;
      vi.resetModules();
    }
  });
});
