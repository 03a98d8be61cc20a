import { fetchRequestHandler } from "@trpc/server/adapters/fetch";

import { appRouter } from "~/server/api/root";
import type { TRPCContext } from "~/server/api/trpc";
import { retryAfterSecondsOf } from "clerk-user-sync/server";

/**
 * Serves the app router over HTTP with the given context: the `Retry-After` header of rate-limited
 * answers, and a log line for server-side failures (their codes and messages, never inputs).
 */
export function handleTRPCRequest(req: Request, createContext: () => Promise<TRPCContext>) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext,
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
