// @vitest-environment jsdom
/**
 * `<UserSyncProvider trpc={api}>` with a real tRPC React client and a real router (in process,
 * `unstable_localLink`), under a host `QueryClientProvider` written as create-t3-app writes it.
 * Clerk's `useAuth` is the input, driven directly; the server reads the "cookie" (the current
 * session) when a call runs, as the real one would. The real clerk-js in a browser is proven by
 * e2e/account-switch.spec.ts and e2e/adoption.spec.ts.
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { unstable_localLink } from "@trpc/client";
import { createTRPCReact } from "@trpc/react-query";
import { initTRPC } from "@trpc/server";
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useState } from "react";
import superjson from "superjson";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { UserSyncProvider, useUserSync } from "./index";

type AuthState = { isLoaded: boolean; isSignedIn: boolean; sessionId: string | null; userId: string | null };
const auth = vi.hoisted((): { current: AuthState } => ({ current: { isLoaded: true, isSignedIn: true, sessionId: "sess_a", userId: "user_a" } }));
vi.mock("@clerk/nextjs", () => ({ useAuth: () => auth.current }));

type Row = { id: string; name: string; deletedAt: Date | null };
const rows: Record<string, Row> = {
  user_a: { id: "user_a", name: "Ada", deletedAt: null },
  user_b: { id: "user_b", name: "Barbara", deletedAt: null },
};
const calls: { sync: string[]; me: string[] } = { sync: [], me: [] };

const t = initTRPC.context<{ userId: string | null }>().create({ transformer: superjson });
const appRouter = t.router({
  user: t.router({
    sync: t.procedure.mutation(({ ctx }) => {
      calls.sync.push(ctx.userId ?? "-");
      return { outcome: "created", user: rows[ctx.userId ?? ""] ?? null };
    }),
    me: t.procedure.query(({ ctx }) => {
      calls.me.push(ctx.userId ?? "-");
      return rows[ctx.userId ?? ""] ?? null;
    }),
  }),
});
const api = createTRPCReact<typeof appRouter>();

type Frame = { sessionId: string | null; me: string | null; synced: string | null };

function Me({ frames }: { frames: Frame[] }) {
  const me = api.user.me.useQuery();
  const { status, user } = useUserSync<Row>();
  frames.push({ sessionId: auth.current.sessionId, me: me.data?.id ?? null, synced: user?.id ?? null });
  return (
    <p data-testid="me">
      {status}:{me.data?.name ?? "-"}:{user?.name ?? "-"}
    </p>
  );
}

function Host({ hostClient, frames }: { hostClient: QueryClient; frames: Frame[] }) {
  const [trpcClient] = useState(() =>
    api.createClient({
      links: [unstable_localLink({ router: appRouter, transformer: superjson, createContext: async () => ({ userId: auth.current.userId }) })],
    }),
  );
  return (
    <StrictMode>
      <QueryClientProvider client={hostClient}>
        <api.Provider client={trpcClient} queryClient={hostClient}>
          <UserSyncProvider trpc={api}>
            <Me frames={frames} />
          </UserSyncProvider>
        </api.Provider>
      </QueryClientProvider>
    </StrictMode>
  );
}

function setup() {
  const hostClient = new QueryClient({ defaultOptions: { queries: { staleTime: 30_000, retry: false } } });
  const frames: Frame[] = [];
  const view = render(<Host hostClient={hostClient} frames={frames} />);
  const switchTo = (next: AuthState) => {
    auth.current = next;
    view.rerender(<Host hostClient={hostClient} frames={frames} />);
  };
  return { hostClient, frames, switchTo };
}

const sessionB: AuthState = { isLoaded: true, isSignedIn: true, sessionId: "sess_b", userId: "user_b" };

beforeEach(() => {
  window.localStorage.clear();
  calls.sync = [];
  calls.me = [];
  auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_a", userId: "user_a" };
});
afterEach(() => cleanup());

describe("UserSyncProvider with the host's tRPC client", () => {
  it("syncs once per session through user.sync; user.me under it is read from a cache of that session, not the host's", async () => {
    const { hostClient } = setup();
    await waitFor(() => expect(screen.getByTestId("me").textContent).toBe("synced:Ada:Ada"));
    expect(calls.sync).toEqual(["user_a"]);
    // The host's own cache holds nothing of the account: queries under the provider use the session's.
    expect(hostClient.getQueryCache().getAll()).toHaveLength(0);
  });

  it("on an account switch, no frame under the new session shows the previous account's user.me or synced row", async () => {
    const { frames, switchTo } = setup();
    await waitFor(() => expect(screen.getByTestId("me").textContent).toBe("synced:Ada:Ada"));
    const underA = frames.length;

    switchTo(sessionB);
    await waitFor(() => expect(screen.getByTestId("me").textContent).toBe("synced:Barbara:Barbara"));
    const framesUnderB = frames.slice(underA).filter((frame) => frame.sessionId === "sess_b");
    expect(framesUnderB.length).toBeGreaterThan(0);
    expect(framesUnderB.filter((frame) => frame.me === "user_a" || frame.synced === "user_a")).toEqual([]);

    // Back to A's session (synced before): a fresh cache, A's row read again, never B's.
    const underB = frames.length;
    switchTo({ isLoaded: true, isSignedIn: true, sessionId: "sess_a", userId: "user_a" });
    await waitFor(() => expect(screen.getByTestId("me").textContent).toBe("synced:Ada:Ada"));
    expect(frames.slice(underB).filter((frame) => frame.me === "user_b" || frame.synced === "user_b")).toEqual([]);
    expect(calls.sync).toEqual(["user_a", "user_b"]);
  });

  it("after a sign-out shows no account at all", async () => {
    const { frames, switchTo } = setup();
    await waitFor(() => expect(screen.getByTestId("me").textContent).toBe("synced:Ada:Ada"));
    const underA = frames.length;
    switchTo({ isLoaded: true, isSignedIn: false, sessionId: null, userId: null });
    await waitFor(() => expect(screen.getByTestId("me").textContent).toMatch(/^idle:/));
    expect(frames.slice(underA).filter((frame) => frame.me === "user_a" || frame.synced === "user_a")).toEqual([]);
  });
});
