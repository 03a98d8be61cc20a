/**
 * POST /api/webhooks/clerk through the app as Next routes it: outside src/proxy.ts's matcher
 * (no clerkMiddleware), the route, the host's plugin instance and its env, and the real
 * PostgreSQL server. The body cap against `next start` is proven in e2e/webhook-body-cap.spec.ts.
 */
import type { NextRequest } from "next/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { signedHeaders, userEvent } from "clerk-user-sync/testing";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { proxyMatches, sendThroughApp } from "~/test/next-app";

let testDb: TestDatabase;
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  testDb = await createTestDatabase("webhook_route");
  useDatabaseForApp(testDb.url);
  process.env.USER_SYNC_WEBHOOK_RETENTION_DAYS = "7";
  route = await import("./route");
});
beforeEach(() => testDb.truncate());
afterAll(async () => {
  delete process.env.USER_SYNC_WEBHOOK_RETENTION_DAYS;
  await testDb.close();
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };

describe("POST /api/webhooks/clerk", () => {
  it("is public: a signed delivery with no session reaches the route and is applied", async () => {
    const body = JSON.stringify(userEvent("user.created", ada));
    // No Authorization header, no cookies: exactly what Svix sends.
    const response = await sendThroughApp(route.POST, "/api/webhooks/clerk", { method: "POST", headers: signedHeaders(body, { svixId: "msg_route_1" }), body });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: "created" });
    const rows = await testDb.client`select email from users where id = ${ada.id}`;
    expect(rows).toEqual([{ email: "ada@example.com" }]);
    const inbox = await testDb.client`select svix_id, outcome from clerk_webhook_events`;
    expect(inbox).toEqual([{ svix_id: "msg_route_1", outcome: "created" }]);
  });

  it("reaches the handler's own 400 for an unsigned request, not a middleware refusal", async () => {
    const response = await sendThroughApp(route.POST, "/api/webhooks/clerk", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "missing_headers" });
    expect(await testDb.client`select 1 from clerk_webhook_events`).toHaveLength(0);
  });

  it("the host's instance prunes its inbox with USER_SYNC_WEBHOOK_RETENTION_DAYS, keeping dead letters", async () => {
    await testDb.client`
      insert into clerk_webhook_events (svix_id, outcome, received_at) values
        ('msg_8_days', 'created', now() - interval '8 days'), ('msg_6_days', 'created', now() - interval '6 days')`;
    await testDb.client`
      insert into clerk_webhook_events (svix_id, outcome, dead_letter_reason, received_at) values
        ('msg_dead', 'dead_letter', 'invalid_json', now() - interval '90 days')`;
    const { userSync } = await import("~/server/user-sync");
    expect((await userSync.webhook.pruneInbox()).deletedRows).toBe(1);
    expect((await testDb.client<{ svix_id: string }[]>`select svix_id from clerk_webhook_events order by svix_id`).map((row) => row.svix_id)).toEqual(["msg_6_days", "msg_dead"]);
  });

  it("is outside clerkMiddleware's matcher (as next build reads it), while pages and /api/trpc are inside", async () => {
    // Next reads the whole body of every request the proxy matches before the route runs, so
    // the webhook route must not be matched for its own 256 KiB cap to come first.
    for (const pathname of ["/api/webhooks/clerk", "/api/webhooks/clerk/"]) {
      expect(await proxyMatches(pathname), pathname).toBe(false);
    }
    for (const pathname of ["/", "/dashboard", "/dashboard/settings", "/api/trpc/user.sync", "/api/webhooks/clerk-other", "/api/webhooks/other"]) {
      expect(await proxyMatches(pathname), pathname).toBe(true);
    }
  });
});
