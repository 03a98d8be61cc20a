import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";

import { toTRPCError } from "./errors";
import type { UsersTable, UserSyncService } from "./sync";

/**
 * What the plugin needs from the host's tRPC context: Clerk's verified `auth()`. `getToken()`
 * (no arguments) returns the session token clerkMiddleware verified; its signing key id is
 * checked against the Backend API's instance before a 404 may tombstone the caller.
 */
export type UserSyncContext = { auth: { userId: string | null; getToken: () => Promise<string | null> } };

const t = initTRPC.context<UserSyncContext>().create();

const authedProcedure = t.procedure.use(({ ctx, next }) => {
  // Identity comes only from the verified Clerk session, never from input.
  const userId = ctx.auth.userId;
  if (!userId) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to sync your user" });
  return next({ ctx: { userId, getToken: ctx.auth.getToken } });
});

export function createUserSyncRouter<TUsers extends UsersTable>(service: UserSyncService<TUsers>) {
  return t.router({
    /** Heals the caller's row from Clerk. Takes no input: extra keys are rejected. */
    sync: authedProcedure
      .input(z.strictObject({}).optional())
      .mutation(async ({ ctx }) => {
        try {
          return await service.syncUser(ctx.userId, { sessionToken: await ctx.getToken() });
        } catch (error) {
          throw toTRPCError(error);
        }
      }),
    /** The caller's row, or null when it is missing or tombstoned. A database failure is a 503 (or a 500 when the database refused). */
    me: authedProcedure.query(async ({ ctx }) => {
      try {
        return await service.readLiveUser(ctx.userId);
      } catch (error) {
        throw toTRPCError(error);
      }
    }),
  });
}
