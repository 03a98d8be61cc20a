/**
 * tRPC plumbing in three parts: the context (Clerk's verified auth), the init (transformer,
 * error shape) and the procedures. Routers live in `root.ts`.
 */
import { auth, clerkClient } from "@clerk/nextjs/server";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";

import { env } from "~/env";
import { userSync } from "~/server/user-sync";
import { fieldErrorsOf, retryAfterSecondsOf, toTRPCError, userSyncErrorCodeOf } from "clerk-user-sync/server";

/** What procedures know of the caller: Clerk's verified session (`getToken()` is its token) and the request headers. */
export type TRPCContext = { auth: { userId: string | null; getToken: () => Promise<string | null> }; headers: Headers };

/** 1. Context: who is calling, from the session `clerkMiddleware` verified. No I/O beyond that. */
export async function createTRPCContext(opts: { headers: Headers }): Promise<TRPCContext> {
  return { auth: await auth(), headers: opts.headers };
}

/**
 * The same context for a route outside clerkMiddleware's matcher (the avatar upload): Clerk's SDK
 * verifies the request's session itself, with the middleware's options (networkless with
 * `CLERK_JWT_KEY`, `authorizedParties` from `APP_URL`). Reads headers only, never the body.
 */
export async function createTRPCContextFromRequest(req: Request): Promise<TRPCContext> {
  const state = await (await clerkClient()).authenticateRequest(req, {
    jwtKey: env.CLERK_JWT_KEY,
    authorizedParties: env.APP_URL,
    acceptsToken: "session_token",
  });
  // A handshake (a document request with a stale cookie) has no auth object: signed out here.
  const signedIn = state.toAuth();
  return { auth: signedIn ?? { userId: null, getToken: () => Promise.resolve(null) }, headers: req.headers };
}

/** 2. Init. */
const t = initTRPC.context<TRPCContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    return {
      ...shape,
      data: {
        ...shape.data,
        zodError: error.cause instanceof ZodError ? error.cause.flatten() : null,
        retryAfterSeconds: retryAfterSecondsOf(error),
        userSyncCode: userSyncErrorCodeOf(error),
        /** Per-field errors (input validation, Clerk's refusals) for forms. */
        fieldErrors: fieldErrorsOf(error),
      },
    };
  },
});

export const createCallerFactory = t.createCallerFactory;
export const createTRPCRouter = t.router;

/** 3. Procedures. */
export const publicProcedure = t.procedure;

export const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.auth.userId) throw new TRPCError({ code: "UNAUTHORIZED" });
  return next({ ctx: { auth: { ...ctx.auth, userId: ctx.auth.userId } } });
});

/**
 * Signed in with Clerk `public_metadata.role` "admin"; anyone else is told the procedure does not
 * exist. The role comes from the plugin's check: read from Clerk at most once per user per
 * `USER_SYNC_ADMIN_ROLE_CACHE_SECONDS` across instances, so polling and looping cost Clerk nothing more.
 */
export const adminProcedure = protectedProcedure.use(async ({ ctx, next }) => {
  let admin: boolean;
  try {
    admin = await userSync.isAdmin(ctx.auth.userId);
  } catch (error) {
    throw toTRPCError(error);
  }
  if (!admin) throw new TRPCError({ code: "NOT_FOUND" });
  return next();
});
