/**
 * user.sync end to end on the server: a real HTTP request through src/proxy.ts (the real
 * clerkMiddleware verifying a session token), the tRPC route, auth(), the real Clerk Backend
 * API client against msw, and the real PostgreSQL server.
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { mintSessionToken } from "~/test/clerk-session";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/database";
import { createClerkBackend } from "~/test/mocks/clerk-backend";
import { trpcMutation } from "~/test/next-app";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let testDb: TestDatabase;
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("user_sync_route");
  useDatabaseForApp(testDb.url);
  process.env.USER_SYNC_CLERK_TIMEOUT_MS = "400";
  route = await import("~/app/api/trpc/[trpc]/route");
});
beforeEach(async () => {
  clerk.reset();
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };

function sync(options: { token?: string; input?: unknown } = {}) {
  return trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: ada.id }), ...options });
}

async function row(id = ada.id) {
  const rows = await testDb.client<
    { xmin: string; email: string | null; first_name: string | null; last_name: string | null; clerk_updated_at: string; tier: string; deleted_at: Date | null }[]
  >`select xmin::text, email, first_name, last_name, clerk_updated_at::text, tier, deleted_at from users where id = ${id}`;
  return rows[0] ?? null;
}

describe("user.sync", () => {
  it("rejects a request without a session: 401, no Clerk call, no row", async () => {
    clerk.setUser(ada);
    const response = await trpcMutation(route.POST, "user.sync", {});
    expect(response.status).toBe(401);
    expect(response.json.error?.json.data.code).toBe("UNAUTHORIZED");
    expect(clerk.getUserCalls()).toBe(0);
    expect(await row()).toBeNull();
  });

  it("rejects a forged or expired session token: 401, no Clerk call", async () => {
    clerk.setUser(ada);
    const forged = mintSessionToken({ userId: ada.id }).replace(/\.[^.]+$/, ".c2lnbmF0dXJl");
    expect((await sync({ token: forged })).status).toBe(401);
    expect((await sync({ token: mintSessionToken({ userId: ada.id, expiresInSeconds: -60 }) })).status).toBe(401);
    expect(clerk.getUserCalls()).toBe(0);
  });

  it("creates the caller's row from Clerk's data, with the primary email", async () => {
    clerk.setUser({ ...ada, otherEmails: ["not-primary@example.com"] });
    const response = await sync();
    expect(response.status).toBe(200);
    const data = response.json.result?.data.json as { outcome: string; user: { id: string; email: string; tier: string } };
    expect(data.outcome).toBe("created");
    expect(data.user).toMatchObject({ id: ada.id, email: "ada@example.com", tier: "FREE" });
    expect(await row()).toMatchObject({ email: "ada@example.com", first_name: "Ada", last_name: "Lovelace", clerk_updated_at: "1000" });
    expect(clerk.calls[0]?.authorization).toBe(`Bearer ${process.env.CLERK_SECRET_KEY}`);
  });

  it("takes identity only from the session: a body naming another user, email or tier is rejected and changes nothing", async () => {
    clerk.setUser(ada);
    clerk.setUser({ id: "user_victim", email: "victim@example.com", updatedAtMs: 5 });
    await testDb.client`insert into users (id, email, clerk_updated_at, tier) values ('user_victim', 'victim@example.com', 5, 'PRO')`;
    const victimBefore = await row("user_victim");
    for (const input of [{ userId: "user_victim" }, { email: "evil@example.com" }, { tier: "MAXX" }, { id: "user_victim", email: "x@y.z" }]) {
      const response = await sync({ input });
      expect(response.status).toBe(400);
    }
    expect(await row("user_victim")).toEqual(victimBefore);
    expect(await row()).toBeNull();
    expect(clerk.getUserCalls()).toBe(0);
    // The caller's own sync writes only the caller's row, from Clerk's data.
    expect((await sync()).status).toBe(200);
    expect(await row()).toMatchObject({ email: "ada@example.com", tier: "FREE" });
    expect(await row("user_victim")).toEqual(victimBefore);
  });

  it("reports an identical second sync as unchanged, with no new row version", async () => {
    clerk.setUser(ada);
    await sync();
    const before = await row();
    const response = await sync();
    expect((response.json.result?.data.json as { outcome: string }).outcome).toBe("unchanged");
    const after = await row();
    console.info(`identical re-sync: outcome unchanged, row version (xmin) ${before?.xmin} -> ${after?.xmin}`);
    expect(after?.xmin).toBe(before?.xmin);
  });

  it("applies a change made in Clerk, and ignores older Clerk data", async () => {
    clerk.setUser(ada);
    await sync();
    clerk.setUser({ ...ada, lastName: "King", updatedAtMs: 2_000 });
    expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "updated" });
    expect(await row()).toMatchObject({ last_name: "King", clerk_updated_at: "2000" });
    const before = await row();
    clerk.setUser({ ...ada, lastName: "Byron", updatedAtMs: 1_500 });
    expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "stale" });
    expect(await row()).toEqual(before);
  });

  it("keeps the app-owned tier through create, update, stale and unchanged syncs", async () => {
    clerk.setUser(ada);
    await sync();
    await testDb.client`update users set tier = 'MAXX' where id = ${ada.id}`;
    for (const [lastName, updatedAtMs] of [["King", 3_000], ["Old", 2_000], ["King", 3_000]] as const) {
      clerk.setUser({ ...ada, lastName, updatedAtMs });
      const response = await sync();
      expect((response.json.result?.data.json as { user: { tier: string } }).user.tier).toBe("MAXX");
    }
    expect((await row())?.tier).toBe("MAXX");
  });

  it("tombstones the row when Clerk no longer has the user (404)", async () => {
    clerk.setUser(ada);
    await sync();
    await testDb.client`update users set tier = 'PRO' where id = ${ada.id}`;
    clerk.users.delete(ada.id);
    const response = await sync();
    expect(response.status).toBe(200);
    expect(response.json.result?.data.json).toMatchObject({ outcome: "deleted" });
    const tombstone = await row();
    expect(tombstone).toMatchObject({ email: null, first_name: null, last_name: null, tier: "PRO" });
    expect(tombstone?.deleted_at).not.toBeNull();
    // Clerk answering again (a stale replica, a replay) does not bring it back.
    clerk.setUser({ ...ada, updatedAtMs: 9_000 });
    const again = (await sync()).json.result?.data.json as { outcome: string; user: { deletedAt: unknown } };
    expect(again.outcome).toBe("deleted");
    expect(again.user.deletedAt).not.toBeNull();
    expect((await row())?.email).toBeNull();
  });

  describe("when Clerk fails, answers with a clear error and leaves the database untouched", () => {
    const cases = [
      { name: "429 with Retry-After", fault: { kind: "status", status: 429, retryAfterSeconds: 7 }, status: 429, code: "TOO_MANY_REQUESTS" },
      { name: "500", fault: { kind: "status", status: 500 }, status: 502, code: "BAD_GATEWAY" },
      { name: "503", fault: { kind: "status", status: 503 }, status: 502, code: "BAD_GATEWAY" },
      { name: "a hang (bounded timeout)", fault: { kind: "hang" }, status: 504, code: "GATEWAY_TIMEOUT" },
      { name: "malformed JSON", fault: { kind: "malformed" }, status: 502, code: "BAD_GATEWAY" },
      { name: "a non-JSON content type", fault: { kind: "wrong-content-type" }, status: 502, code: "BAD_GATEWAY" },
    ] as const;

    for (const failure of cases) {
      it(failure.name, async () => {
        clerk.setUser(ada);
        await sync();
        await testDb.client`update users set tier = 'PRO' where id = ${ada.id}`;
        const before = await row();
        clerk.setUser({ ...ada, lastName: "Changed", updatedAtMs: 5_000 });
        clerk.setFault(failure.fault);
        const response = await sync();
        expect(response.status).toBe(failure.status);
        expect(response.json.error?.json.data.code).toBe(failure.code);
        expect(response.json.error?.json.message).toMatch(/Clerk/);
        expect(await row()).toEqual(before);
        if (failure.status === 429) {
          expect(response.headers.get("retry-after")).toBe("7");
          expect(response.json.error?.json.data.retryAfterSeconds).toBe(7);
        }
        // Once Clerk is healthy again the same call heals the row.
        clerk.setFault(null);
        expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "updated" });
        expect((await row())?.last_name).toBe("Changed");
      });
    }

    it("the first sync of a new user leaves no row behind", async () => {
      clerk.setUser(ada);
      clerk.setFault({ kind: "status", status: 500 });
      expect((await sync()).status).toBe(502);
      expect(await row()).toBeNull();
    });
  });

  it("coalesces 20 concurrent syncs of one user: 1 row, 0 errors, at most 2 Clerk calls", async () => {
    clerk.setUser(ada);
    clerk.setLatency(100);
    const token = mintSessionToken({ userId: ada.id });
    const responses = await Promise.all(Array.from({ length: 20 }, () => sync({ token })));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const outcomes = responses.map((r) => (r.json.result?.data.json as { outcome: string }).outcome);
    console.info(`20 concurrent syncs: ${clerk.getUserCalls()} Clerk call(s), outcomes ${JSON.stringify(countBy(outcomes))}`);
    expect(clerk.getUserCalls()).toBeLessThanOrEqual(2);
    const rows = await testDb.client`select count(*)::int as n from users`;
    expect(rows[0]?.n).toBe(1);
  });
});

function countBy(values: string[]) {
  return values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});
}
