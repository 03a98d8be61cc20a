"use client";

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { httpBatchLink, httpLink, isNonJsonSerializable, loggerLink, splitLink } from "@trpc/client";
import { createTRPCReact } from "@trpc/react-query";
import { useState } from "react";
import superjson from "superjson";

import type { AppRouter } from "~/server/api/root";

import { isHandledError } from "./handled-errors";
import { createQueryClient } from "./query-client";

export const api = createTRPCReact<AppRouter>();

// One browser cache, as create-t3-app does; `UserSyncProvider` gives everything under it a cache
// of the current Clerk session.
let clientQueryClientSingleton: QueryClient | undefined;
function getQueryClient() {
  if (typeof window === "undefined") return createQueryClient();
  return (clientQueryClientSingleton ??= createQueryClient());
}

function trpcUrl() {
  return `${typeof window === "undefined" ? `http://localhost:${process.env.PORT ?? 3000}` : window.location.origin}/api/trpc`;
}

/** The app's tRPC and React Query providers. Place it inside `ClerkProvider`. */
export function TRPCReactProvider(props: { children: React.ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() =>
    api.createClient({
      links: [
        loggerLink({
          // Unexpected errors always; in development every call too, but never an error the page
          // shows itself (a taken username, a bad file): the dev overlay would flag it as an issue.
          enabled: (op) =>
            op.direction === "down" && op.result instanceof Error ? !isHandledError(op.result) : process.env.NODE_ENV === "development",
        }),
        // Files and bytes (the avatar upload) cannot be batched as JSON: they go alone, raw.
        splitLink({
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink({ transformer: superjson, url: trpcUrl(), headers: () => ({ "x-trpc-source": "nextjs-react" }) }),
          false: httpBatchLink({ transformer: superjson, url: trpcUrl(), headers: () => ({ "x-trpc-source": "nextjs-react" }) }),
        }),
      ],
    }),
  );

  return (
    <QueryClientProvider client={queryClient}>
      <api.Provider client={trpcClient} queryClient={queryClient}>
        {props.children}
      </api.Provider>
    </QueryClientProvider>
  );
}
