import { TRPCError } from "@trpc/server";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";

import { adminProcedure, createTRPCRouter } from "~/server/api/trpc";
import { readConsoleOverview } from "~/server/console";
import { getDb } from "~/server/db";
import { users, userTier } from "~/server/db/schema";

/** The admin console's data (`/admin/sync`): admins only, refused on the server for anyone else. */
export const adminRouter = createTRPCRouter({
  overview: adminProcedure.query(() => readConsoleOverview()),
  /**
   * The only way a user's app-owned `tier` changes (never from the profile, never by sync).
   * Answers the user's id and new tier; NOT_FOUND for an unknown or deleted user.
   */
  setUserTier: adminProcedure
    .input(z.strictObject({ userId: z.string().startsWith("user_").max(100), tier: z.enum(userTier.enumValues) }))
    .mutation(async ({ input }) => {
      let row: (typeof users.$inferSelect) | undefined;
      try {
        const db = await getDb();
        [row] = await db
          .update(users)
          .set({ tier: input.tier })
          .where(and(eq(users.id, input.userId), isNull(users.deletedAt)))
          .returning();
      } catch (error) {
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "The tier could not be saved; try again", cause: error });
      }
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "No live user with that id" });
      return { id: row.id, tier: row.tier };
    }),
});
