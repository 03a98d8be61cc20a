/**
 * bench.noop, the benchmark's framework floor, with BENCH_FRAMEWORK_FLOOR=true: through the real
 * proxy (clerkMiddleware) and tRPC route, protected like user.sync. (Off: `bench-disabled.test.ts`;
 * the env is read once per module graph, so each setting has its own file.)
 */
import type { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";

import { mintSessionToken } from "clerk-user-sync/testing";
import { trpcMutation } from "~/test/next-app";

let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  vi.stubEnv("BENCH_FRAMEWORK_FLOOR", "true");
  route = await import("~/app/api/trpc/[trpc]/route");
});

describe("bench.noop with BENCH_FRAMEWORK_FLOOR=true", () => {
  it("answers null to a signed-in caller", async () => {
    const response = await trpcMutation(route.POST, "bench.noop", { token: mintSessionToken({ userId: "user_bench" }) });
    expect(response.status).toBe(200);
    expect(response.json.result?.data.json).toBeNull();
  });

  it("is protected like user.sync: no session is a 401", async () => {
    const response = await trpcMutation(route.POST, "bench.noop", {});
    expect(response.status).toBe(401);
  });
});
