/**
 * admin.setUserTier: `tier` is app-owned and changes only through this server-side admin action
 * (Clerk `public_metadata.role` "admin", read from the Backend API), never from the profile.
 */
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { clerkApiUrl, clerkUserJson, createClerkBackend, createClerkProfileBackend, mintSessionToken } from "clerk-user-sync/testing";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { trpcMutation } from "~/test/next-app";

const clerk = createClerkBackend();
const clerkWrites = createClerkProfileBackend(clerk);
const admin = { id: "user_admin", email: "margaret@example.com", firstName: "Margaret", updatedAtMs: 1_000 };
// Clerk's answer for the admin carries the role in public metadata.
const adminInClerk = http.get(`${clerkApiUrl()}/v1/users/${admin.id}`, () =>
  HttpResponse.json({ ...clerkUserJson(admin), public_metadata: { role: "admin" } }),
);
const server = setupServer(adminInClerk, ...clerkWrites.handlers, ...clerk.handlers);
let testDb: TestDatabase;
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("admin_tier");
  useDatabaseForApp(testDb.url);
  route = await import("~/app/api/trpc/[trpc]/route");
});
beforeEach(async () => {
  clerk.reset();
  clerkWrites.reset();
  await testDb.truncate();
  await testDb.client`insert into users (id, email, first_name, clerk_updated_at) values ('user_ada', 'ada@example.com', 'Ada', 1000)`;
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

const tierOf = async (id = "user_ada") => (await testDb.client<{ tier: string }[]>`select tier from users where id = ${id}`)[0]?.tier;

describe("admin.setUserTier", () => {
  it("an admin changes a user's tier; nothing is sent to Clerk", async () => {
    const response = await trpcMutation(route.POST, "admin.setUserTier", {
      token: mintSessionToken({ userId: admin.id }),
      input: { userId: "user_ada", tier: "PRO" },
    });
    expect(response.status).toBe(200);
    expect(response.json.result?.data.json).toEqual({ id: "user_ada", tier: "PRO" });
    expect(await tierOf()).toBe("PRO");
    expect(clerkWrites.calls).toEqual([]);
  });

  it("anyone else is told it does not exist (404), a visitor without a session 401; the tier stays", async () => {
    clerk.setUser({ id: "user_ada", email: "ada@example.com", updatedAtMs: 1_000 });
    const asAda = await trpcMutation(route.POST, "admin.setUserTier", { token: mintSessionToken({ userId: "user_ada" }), input: { userId: "user_ada", tier: "MAXX" } });
    expect(asAda.status).toBe(404);
    const anonymous = await trpcMutation(route.POST, "admin.setUserTier", { input: { userId: "user_ada", tier: "MAXX" } });
    expect(anonymous.status).toBe(401);
    expect(await tierOf()).toBe("FREE");
  });

  it("refuses an unknown tier or user: 400 / 404, nothing written", async () => {
    const token = mintSessionToken({ userId: admin.id });
    expect((await trpcMutation(route.POST, "admin.setUserTier", { token, input: { userId: "user_ada", tier: "GOLD" } })).status).toBe(400);
    expect((await trpcMutation(route.POST, "admin.setUserTier", { token, input: { userId: "user_nobody", tier: "PRO" } })).status).toBe(404);
    expect(await tierOf()).toBe("FREE");
  });
});
