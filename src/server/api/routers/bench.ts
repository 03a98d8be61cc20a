import { TRPCError } from "@trpc/server";

import { env } from "~/env";
import { createTRPCRouter, protectedProcedure } from "~/server/api/trpc";

/**
 * The benchmark's framework floor (`npm run bench`): a protected mutation that does nothing,
 * served by the same Next app through the same `clerkMiddleware` and tRPC plumbing as
 * `user.sync`, so the figures separate what the framework costs from what the product's own
 * code costs. Unless `BENCH_FRAMEWORK_FLOOR=true` it answers NOT_FOUND, like a procedure that
 * does not exist.
 */
export const benchRouter = createTRPCRouter({
  noop: protectedProcedure.mutation(() => {
    if (!env.BENCH_FRAMEWORK_FLOOR) throw new TRPCError({ code: "NOT_FOUND" });
    return null;
  }),
});
