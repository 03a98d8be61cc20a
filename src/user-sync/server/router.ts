import { initTRPC, TRPCError, type AnyTRPCRouter, type inferRouterContext, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";

import { toTRPCError } from "./errors";
import type { UserSyncService } from "./sync";
import type { UsersTable } from "./schema";

/**
 * What the plugin needs from the host's tRPC context: Clerk's verified `auth()`. `getToken()`
 * (no arguments) returns the session token clerkMiddleware verified; its signing key id is
 * checked against the Backend API's instance before a 404 may tombstone the caller.
 */
export type UserSyncContext = { auth: { userId: string | null; getToken: () => Promise<string | null> } };

/** The compile error a host gets when its tRPC context lacks what the plugin needs. */
export type MissingClerkAuth =
  "clerk-user-sync: your tRPC context has no Clerk `auth`. In createTRPCContext, return { auth: await auth(), ... } with auth from \"@clerk/nextjs/server\"";

/** A host's router factory: create-t3-app's `createTRPCRouter` (its `t.router`). */
export type TRPCRouterFactory = (record: TRPCRouterRecord) => AnyTRPCRouter;

/** The context the routers of `TFactory` run on. */
type ContextOf<TFactory> = TFactory extends (record: never) => infer TRouter
  ? TRouter extends AnyTRPCRouter
    ? inferRouterContext<TRouter>
    : never
  : never;

/**
 * The plugin's router, made with the host's router factory: `user: userSync.router(createTRPCRouter)`.
 * It compiles only when the host's context carries Clerk's `auth` (`UserSyncContext`); otherwise
 * the argument's expected type is the `MissingClerkAuth` message naming what to add.
 */
export type UserSyncRouterMount<TRouter extends AnyTRPCRouter> = <TFactory extends TRPCRouterFactory>(
  createRouter: [ContextOf<TFactory>] extends [UserSyncContext] ? TFactory : MissingClerkAuth,
) => TRouter;

/** Mounts `router`'s procedures through the host's own factory (its transformer and error formatter apply anyway). */
export function routerMount<TRouter extends AnyTRPCRouter>(router: TRouter): UserSyncRouterMount<TRouter> {
  return (createRouter) => (createRouter as TRPCRouterFactory)(router._def.record as TRPCRouterRecord) as TRouter;
}

export const contextWithoutAuth =
  "clerk-user-sync: the tRPC context has no `auth`: return { auth: await auth() } (from @clerk/nextjs/server) from createTRPCContext";

const t = initTRPC.context<UserSyncContext>().create();

const authedProcedure = t.procedure.use(({ ctx, next }) => {
  // A host without `auth` in its context fails to compile (UserSyncRouterMount); JavaScript hosts get this.
  if (!(ctx as Partial<UserSyncContext>).auth) throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: contextWithoutAuth });
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
