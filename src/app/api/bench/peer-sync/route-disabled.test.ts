/** POST /api/bench/peer-sync without BENCH_FRAMEWORK_FLOOR: a signed-in caller gets a 404 and no Clerk call is made. */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, beforeAll, expect, it, vi } from "vitest";

import { createClerkBackend, mintSessionToken } from "clerk-user-sync/testing";
import { sendThroughApp } from "~/test/next-app";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  vi.stubEnv("BENCH_FRAMEWORK_FLOOR", undefined);
  route = await import("./route");
});
afterAll(() => server.close());

it("answers 404 unless BENCH_FRAMEWORK_FLOOR=true", async () => {
  clerk.setUser({ id: "user_bench", email: "bench@example.com", updatedAtMs: 1_000 });
  const response = await sendThroughApp(route.POST, "/api/bench/peer-sync", {
    method: "POST",
    headers: { authorization: `Bearer ${mintSessionToken({ userId: "user_bench" })}` },
  });
  expect(response.status).toBe(404);
  expect(clerk.getUserCalls()).toBe(0);
});
