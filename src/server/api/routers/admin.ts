import { adminProcedure, createTRPCRouter } from "~/server/api/trpc";
import { readConsoleOverview } from "~/server/console";

/** The admin console's data (`/admin/sync`): admins only, refused on the server for anyone else. */
export const adminRouter = createTRPCRouter({
  overview: adminProcedure.query(() => readConsoleOverview()),
});
