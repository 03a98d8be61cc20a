/**
 * src/proxy.ts with APP_URL set: the real clerkMiddleware gets it as `authorizedParties`, so a
 * session token minted for another origin (its `azp`) is refused before any procedure runs.
 * Through the tRPC route, the real Clerk Backend API client against msw and real PostgreSQL.
 */
import { setupServer } from "msw/node";
import { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { createClerkBackend, mintSessionToken } from "clerk-user-sync/testing";
import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { runProxy, trpcMutation } from "~/test/next-app";
import { countingStream, trpcUpload } from "~/test/upload-request";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let testDb: TestDatabase;
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("proxy_authorized_parties");
  useDatabaseForApp(testDb.url);
  // Read once by src/env.js when the app's modules load below; a trailing path is reduced to the origin.
  process.env.APP_URL = "https://app.example.test/, http://localhost:3000";
  route = await import("~/app/api/trpc/[trpc]/route");
});
beforeEach(async () => {
  clerk.reset();
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  delete process.env.APP_URL;
  server.close();
  await testDb.close();
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };

function sync(authorizedParty: string) {
  return trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: ada.id, authorizedParty }) });
}

describe("clerkMiddleware with APP_URL (authorizedParties)", () => {
  it("refuses a session token minted for another origin: 401, no Clerk call, no row", async () => {
    clerk.setUser(ada);
    for (const foreign of ["https://evil.example.test", "http://localhost:3001", "https://app.example.test.evil.test"]) {
      const response = await sync(foreign);
      expect(response.status, foreign).toBe(401);
      expect(response.json.error?.json.data.code).toBe("UNAUTHORIZED");
    }
    expect(clerk.getUserCalls()).toBe(0);
    expect(await testDb.client`select id from users`).toEqual([]);
  });

  it("accepts session tokens minted for any of the listed origins", async () => {
    clerk.setUser(ada);
    for (const origin of ["https://app.example.test", "http://localhost:3000"]) {
      const response = await sync(origin);
      expect(response.status, origin).toBe(200);
    }
    expect(clerk.getUserCalls()).toBeGreaterThanOrEqual(1);
    expect(await testDb.client`select id from users`).toEqual([{ id: ada.id }]);
  });

  it("forwards the verified session to the route without the encrypted options header (the keys come from the environment)", async () => {
    for (const [origin, status] of [["https://app.example.test", "signed-in"], ["https://evil.example.test", "signed-out"]] as const) {
      const token = mintSessionToken({ userId: ada.id, authorizedParty: origin });
      const request = new NextRequest("http://localhost:3000/api/trpc/user.sync", { method: "POST", headers: { authorization: `Bearer ${token}` } });
      const response = await runProxy(request);
      if (!response) throw new Error("clerkMiddleware answered nothing");
      expect(response.headers.get("x-middleware-request-x-clerk-auth-status"), origin).toBe(status);
      expect(response.headers.get("x-middleware-override-headers")?.split(","), origin).not.toContain("x-clerk-request-data");
      expect(response.headers.get("x-middleware-request-x-clerk-request-data"), origin).toBeNull();
    }
    expect(clerk.calls).toEqual([]);
  });

  it("the avatar upload, outside the matcher, checks the token's origin the same way: another origin is 401 before any byte is read", async () => {
    const avatarRoute = await import("~/app/api/trpc/user.updateAvatar/route");
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    for (const foreign of ["https://evil.example.test", "http://localhost:3001"]) {
      const { stream, counter } = countingStream(png, 10_000);
      const token = mintSessionToken({ userId: ada.id, authorizedParty: foreign });
      const response = await trpcUpload(avatarRoute.POST, "user.updateAvatar", { token, body: stream, contentLength: 10_000 });
      expect(response.status, foreign).toBe(401);
      expect(counter.pulledBytes).toBe(0);
    }
    expect(clerk.calls).toEqual([]);
  });
});
