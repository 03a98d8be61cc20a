/**
 * What every user shares, no single user can exhaust (issue 19), through the app as a user
 * reaches it: real requests through src/proxy.ts (the real clerkMiddleware verifying minted
 * session tokens) into the tRPC route, the plugin's Backend API client against msw, the real
 * PostgreSQL server, and the Clerk budget at Clerk's development limit (100 per 10 s).
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { createPostgresClerkBudget } from "clerk-user-sync/server/advanced";
import { type ClerkUserInput, createClerkBackend, createClerkProfileBackend, mintSessionToken } from "clerk-user-sync/testing";
import { integrationHarness } from "~/test/app-database";
import { sendThroughApp, trpcMutation } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const clerk = createClerkBackend();
const clerkWrites = createClerkProfileBackend(clerk);
const server = setupServer(...clerkWrites.handlers, ...clerk.handlers);
const testDb = integrationHarness("fair_sharing", server, {
  reset: () => {
    clerk.reset();
    clerkWrites.reset();
  },
  app: true,
});
let trpc: Route;

beforeAll(async () => {
  // Clerk's development limit: what one user's loop could exhaust for everyone.
  process.env.USER_SYNC_CLERK_REQUESTS_PER_10S = "100";
  trpc = (await import("~/app/api/trpc/[trpc]/route")).POST;
});
afterAll(() => {
  delete process.env.USER_SYNC_CLERK_REQUESTS_PER_10S;
});

const margaret: ClerkUserInput = { id: "user_margaret", email: "margaret@example.com", firstName: "Margaret", updatedAtMs: 1_000, publicMetadata: { role: "admin" } };
const mallory: ClerkUserInput = { id: "user_mallory", email: "mallory@example.com", firstName: "Mallory", updatedAtMs: 1_000 };

/** An `admin.*` call as the console makes it: queries with GET, mutations with POST. */
async function adminCall(route: Route, userId: string, call: "overview" | "lastReconcileRun" | "users" | "setUserTier") {
  const headers = { authorization: `Bearer ${mintSessionToken({ userId })}`, "content-type": "application/json" };
  if (call === "setUserTier") {
    const body = JSON.stringify({ json: { userId: "user_nobody", tier: "PRO" } });
    return (await sendThroughApp(route, "/api/trpc/admin.setUserTier", { method: "POST", headers, body })).status;
  }
  const input = call === "users" ? `?input=${encodeURIComponent(JSON.stringify({ json: { page: 0 } }))}` : "";
  return (await sendThroughApp(route, `/api/trpc/admin.${call}${input}`, { headers })).status;
}

const adminCalls = ["overview", "lastReconcileRun", "users", "setUserTier"] as const;

describe("the admin check", () => {
  it("40 concurrent admin.* calls by one non-admin make one Backend API call; all 404", async () => {
    clerk.setUser(mallory);
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => adminCall(trpc, mallory.id, adminCalls[i % adminCalls.length]!)));
    console.info(`40 concurrent admin.* calls by a non-admin: ${clerk.getUserCalls()} Backend API call(s)`);
    expect(statuses).toEqual(Array<number>(40).fill(404));
    expect(clerk.getUserCalls()).toBe(1);
    // And again within the period: PostgreSQL answers, Clerk is not asked.
    expect(await adminCall(trpc, mallory.id, "overview")).toBe(404);
    expect(clerk.getUserCalls()).toBe(1);
  });

  it("split across two app instances, 40 concurrent calls still make at most a few Backend API calls", async () => {
    clerk.setUser(mallory);
    vi.resetModules();
    const otherInstance = (await import("~/app/api/trpc/[trpc]/route")).POST;
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => adminCall(i % 2 === 0 ? trpc : otherInstance, mallory.id, adminCalls[i % adminCalls.length]!)),
    );
    console.info(`40 concurrent admin.* calls by a non-admin over two instances: ${clerk.getUserCalls()} Backend API call(s)`);
    expect(statuses).toEqual(Array<number>(40).fill(404));
    expect(clerk.getUserCalls()).toBeLessThanOrEqual(2);
  });

  it("an admin's console polling reads PostgreSQL only: one role read, then none for the period", async () => {
    clerk.setUser(margaret);
    for (let poll = 0; poll < 10; poll++) expect(await adminCall(trpc, margaret.id, "lastReconcileRun")).toBe(200);
    expect(await adminCall(trpc, margaret.id, "users")).toBe(200);
    expect(clerk.getUserCalls()).toBe(1);
  });

  it("a revoked role stops working once the period has passed (the cache's read time moved back by 61 s here)", async () => {
    clerk.setUser(margaret);
    expect(await adminCall(trpc, margaret.id, "users")).toBe(200);
    clerk.setUser({ ...margaret, publicMetadata: {}, updatedAtMs: 2_000 });
    // Within the period the role read stands…
    expect(await adminCall(trpc, margaret.id, "users")).toBe(200);
    expect(clerk.getUserCalls()).toBe(1);
    // …and after it, the next call reads Clerk again and is refused.
    await testDb.client`update user_sync_clerk_cache set read_at = read_at - interval '61 seconds' where key = ${`admin:${margaret.id}`}`;
    expect(await adminCall(trpc, margaret.id, "users")).toBe(404);
    expect(clerk.getUserCalls()).toBe(2);
  });

  it("a user Clerk no longer knows is not an admin", async () => {
    // No such user in Clerk: resource_not_found.
    expect(await adminCall(trpc, "user_gone", "users")).toBe(404);
    expect(clerk.getUserCalls()).toBe(1);
  });

  it("the role read draws from the shared budget: while another instance's 429 pauses it, 429 with Retry-After and no Clerk call", async () => {
    clerk.setUser(margaret);
    await createPostgresClerkBudget({ db: () => Promise.resolve(testDb.db), requestsPerWindow: 100 }).pause(20);
    const response = await sendThroughApp(trpc, "/api/trpc/admin.lastReconcileRun", { headers: { authorization: `Bearer ${mintSessionToken({ userId: margaret.id })}` } });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(18);
    expect(clerk.getUserCalls()).toBe(0);
  });
});

describe("per-user limits before shared grants", () => {
  const others: ClerkUserInput[] = ["ada", "grace", "alan", "edsger", "barbara", "katherine"].map((name, i) => ({
    id: `user_${name}`,
    email: `${name}@example.com`,
    firstName: name,
    updatedAtMs: 1_000 + i,
  }));

  it("with the budget at 100 per 10 s, one user flooding edits leaves every other user's user.sync answering 200", async () => {
    clerk.setUser(mallory);
    for (const user of others) clerk.setUser(user);
    const token = mintSessionToken({ userId: mallory.id });
    let flooding = true;
    const floodStatuses: number[] = [];
    // 24 edits in flight at all times, each sent again as soon as it was answered.
    const flood = Array.from({ length: 24 }, async (_, worker) => {
      for (let i = 0; flooding; i++) {
        const response = await trpcMutation(trpc, "user.updateProfile", { token, input: { firstName: `Mallory ${worker}.${i}` } });
        floodStatuses.push(response.status);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const syncStatuses: number[] = [];
    for (const user of others) {
      syncStatuses.push((await trpcMutation(trpc, "user.sync", { token: mintSessionToken({ userId: user.id }) })).status);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    flooding = false;
    await Promise.all(flood);

    const patches = clerkWrites.calls.filter((call) => call.userId === mallory.id).length;
    const tooMany = floodStatuses.filter((status) => status === 429).length;
    console.info(
      `flood: ${floodStatuses.length} edits by one user (${tooMany} answered 429), ${patches} reached Clerk; other users' syncs: ${syncStatuses.join(", ")}`,
    );
    expect(syncStatuses).toEqual(Array<number>(others.length).fill(200));
    // Clerk's per-user limit is kept before Clerk: at most 10 of the flood's edits reached it.
    expect(patches).toBeLessThanOrEqual(10);
    expect(floodStatuses.length).toBeGreaterThan(patches);
  });
});
