import { TRPCError } from "@trpc/server";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";

import { interestsSchema } from "~/lib/interests";
import { createTRPCRouter, protectedProcedure } from "~/server/api/trpc";
import { getDb } from "~/server/db";
import { users } from "~/server/db/schema";

/**
 * The app-owned half of the profile. Identity fields go through `user.updateProfile` (Clerk
 * first); what only this app knows is written here, straight to its own columns, and never to
 * Clerk. `tier` is not editable here: the input is strict, so a `tier` key is a 400.
 */
export const profileRouter = createTRPCRouter({
  /** Replaces the caller's interests; answers the caller's row. */
  updateInterests: protectedProcedure
    .input(z.strictObject({ interests: interestsSchema }))
    .mutation(async ({ ctx, input }) => {
      let row: typeof users.$inferSelect | undefined;
      try {
        const db = await getDb();
        [row] = await db
          .update(users)
          .set({ interests: input.interests })
          .where(and(eq(users.id, ctx.auth.userId), isNull(users.deletedAt)))
          .returning();
      } catch (error) {
        // The driver's message quotes the query's values: none of it goes into the answer.
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "Your interests could not be saved; try again", cause: error });
      }
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "Your profile is not synced yet; try again in a moment" });
      return row;
    }),
});
