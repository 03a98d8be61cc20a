import { adminRouter } from "~/server/api/routers/admin";
import { benchRouter } from "~/server/api/routers/bench";
import { profileRouter } from "~/server/api/routers/profile";
import { createCallerFactory, createTRPCRouter } from "~/server/api/trpc";
import { userSync } from "~/server/user-sync";

export const appRouter = createTRPCRouter({
  user: userSync.router(createTRPCRouter),
  profile: profileRouter,
  admin: adminRouter,
  bench: benchRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
