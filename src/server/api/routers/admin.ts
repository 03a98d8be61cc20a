import { TRPCError } from "@trpc/server";
import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";

import { adminProcedure, createTRPCRouter } from "~/server/api/trpc";
import { readConsoleOverview, readConsoleUsers, readReconcileRun, startConsoleReconcile, type ConsoleReconcileRun } from "~/server/console";
import { getDb } from "~/server/db";
import { users, userTier } from "~/server/db/schema";
import { ReconcileLockedError } from "clerk-user-sync/server";

/** Rows per page of the console's users table. */
const usersPageSize = 10;

/** What the console says when another run holds the reconciliation lock: the run, if its row is known. */
function lockedMessage(running: ConsoleReconcileRun | null): string {
  if (running?.status !== "running") return "Another reconciliation run holds the lock (started outside the console or not yet recorded); try again when it ends.";
  const kind = `${running.dryRun ? "a dry run" : "an apply run"} (${running.mode})`;
  const progress = running.clerkTotal === null ? "no page read yet" : `${running.walked} of ${running.clerkTotal} users walked`;
  return `Another reconciliation run holds the lock: ${kind} ${running.id}, started ${running.startedAt.slice(0, 19).replace("T", " ")} UTC, ${progress}. Try again when it ends.`;
}

/** The admin console's data (`/admin/sync`): admins only, refused on the server for anyone else. */
export const adminRouter = createTRPCRouter({
  overview: adminProcedure.query(() => readConsoleOverview()),
  /** The last reconciliation run (any status, from any instance, the CLI or the admin API): progress, counts and its diff. */
  lastReconcileRun: adminProcedure.query(() => readReconcileRun()),
  /**
   * Starts a reconciliation (dry run or apply) and answers its run id and row once the row
   * exists; the run continues in the server process and the console polls `lastReconcileRun`.
   * `allowDeletionsUpTo`: the admin confirmed that many tombstones of a mass deletion the guard
   * refused. CONFLICT (409) at once while another run holds the lease, with that run's kind,
   * start and progress when known.
   */
  startReconcile: adminProcedure
    .input(
      z.strictObject({
        dryRun: z.boolean(),
        mode: z.enum(["full", "incremental"]).default("full"),
        allowDeletionsUpTo: z.number().int().min(1).max(10_000_000).optional(),
      }).refine((input) => input.allowDeletionsUpTo === undefined || !input.dryRun, "allowDeletionsUpTo applies tombstones: it needs dryRun false"),
    )
    .mutation(async ({ input }) => {
      try {
        return await startConsoleReconcile(input);
      } catch (error) {
        if (error instanceof ReconcileLockedError) {
          const running = await readReconcileRun(error.runningRunId ?? undefined).catch(() => null);
          throw new TRPCError({ code: "CONFLICT", message: lockedMessage(error.runningRunId ? running : null), cause: error });
        }
        throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "The reconciliation could not start; try again", cause: error });
      }
    }),
  /** Live users, newest first, ten per page, with their app-owned tier. */
  users: adminProcedure
    .input(z.strictObject({ page: z.number().int().min(0).max(100_000) }))
    .query(({ input }) => readConsoleUsers(input.page, usersPageSize)),
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
