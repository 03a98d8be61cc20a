import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { NextRequest } from "next/server";

import { appRouter } from "~/server/api/root";
import { createTRPCContext } from "~/server/api/trpc";
import { retryAfterSecondsOf } from "clerk-user-sync/server";

function handler(req: NextRequest) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers }),
    responseMeta({ errors }) {
      const retryAfterSeconds = errors.map(retryAfterSecondsOf).find((s) => s !== null);
      return retryAfterSeconds == null ? {} : { headers: new Headers({ "Retry-After": String(retryAfterSeconds) }) };
    },
    onError({ path, error }) {
      if (error.code === "INTERNAL_SERVER_ERROR" || error.code === "SERVICE_UNAVAILABLE") {
        console.error(`tRPC ${path ?? "<no-path>"} failed: ${error.code} ${error.message}`);
      }
    },
  });
}

export { handler as GET, handler as POST };
