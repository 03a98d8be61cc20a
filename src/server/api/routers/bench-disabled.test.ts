/** bench.noop without BENCH_FRAMEWORK_FLOOR: a signed-in caller is told it does not exist. */
import type { NextRequest } from "next/server";
import { beforeAll, expect, it, vi } from "vitest";

import { mintSessionToken } from "clerk-user-sync/testing";
import { trpcMutation } from "~/test/next-app";

let route: { POST: (req: NextRequest) => Promise<Response> };

beforeAll(async () => {
  vi.stubEnv("BENCH_FRAMEWORK_FLOOR", undefined);
  route = await import("~/app/api/trpc/[trpc]/route");
});

it("bench.noop answers 404 unless BENCH_FRAMEWORK_FLOOR=true", async () => {
  const response = await trpcMutation(route.POST, "bench.noop", { token: mintSessionToken({ userId: "user_bench" }) });
  expect(response.status).toBe(404);
  expect(response.json.error?.json.data.code).toBe("NOT_FOUND");
});
