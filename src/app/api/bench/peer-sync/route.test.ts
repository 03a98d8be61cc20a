/**
 * The benchmark's peer (POST /api/bench/peer-sync) with BENCH_FRAMEWORK_FLOOR=true, through the
 * real proxy (clerkMiddleware) on real PostgreSQL, Clerk's Backend API stood in by msw: the
 * recipe people copy fetches the user on every call and upserts it without guards. (Off:
 * `route-disabled.test.ts`; the env is read once per module graph, so each setting has its own file.)
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";

import { integrationHarness } from "~/test/app-database";
import { createClerkBackend, mintSessionToken } from "clerk-user-sync/testing";
import { sendThroughApp } from "~/test/next-app";

const clerk = createClerkBackend();
const testDb = integrationHarness("bench_peer_sync", setupServer(...clerk.handlers), { reset: () => clerk.reset(), app: true });
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  vi.stubEnv("BENCH_FRAMEWORK_FLOOR", "true");
  route = await import("./route");
});

const peerSync = (token?: string) =>
  sendThroughApp(route.POST, "/api/bench/peer-sync", { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} });

const storedClock = async (id: string) =>
  (await testDb.client<{ clerk_updated_at: string; first_name: string | null }[]>`select clerk_updated_at::text, first_name from users where id = ${id}`)[0];

describe("POST /api/bench/peer-sync with BENCH_FRAMEWORK_FLOOR=true", () => {
  it("fetches the signed-in user from Clerk on every call and upserts the row, an older clock included", async () => {
    clerk.setUser({ id: "user_peer", email: "peer@example.com", firstName: "Ada", updatedAtMs: 2_000 });
    const token = mintSessionToken({ userId: "user_peer" });
    const first = await peerSync(token);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ id: "user_peer", email: "peer@example.com", firstName: "Ada" });
    expect(await storedClock("user_peer")).toEqual({ clerk_updated_at: "2000", first_name: "Ada" });

    // No ordering guard: an older snapshot overwrites a newer row, as the copied recipe does.
    clerk.setUser({ id: "user_peer", email: "peer@example.com", firstName: "Older", updatedAtMs: 1_000 });
    expect((await peerSync(token)).status).toBe(200);
    expect(await storedClock("user_peer")).toEqual({ clerk_updated_at: "1000", first_name: "Older" });
    expect(clerk.getUserCalls()).toBe(2);
  });

  it("is a 401 without a session, before any Clerk call", async () => {
    const response = await peerSync();
    expect(response.status).toBe(401);
    expect(clerk.getUserCalls()).toBe(0);
  });
});
