// @vitest-environment jsdom
/**
 * The provider's once-per-session contract. Clerk's `useAuth` is the input here, so it is
 * driven directly; the real clerk-js in a real browser is proven by the e2e suite.
 */
import { useAuth } from "@clerk/nextjs";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { UserSyncProvider, useUserSync } from "./index";

type AuthState = { isLoaded: boolean; isSignedIn: boolean; sessionId: string | null; userId: string | null };
const auth = vi.hoisted((): { current: AuthState } => ({ current: { isLoaded: true, isSignedIn: true, sessionId: "sess_1", userId: "user_1" } }));
vi.mock("@clerk/nextjs", () => ({ useAuth: () => auth.current }));

type User = { id: string; name: string };

function Status({ label }: { label: string }) {
  const { status, user, error } = useUserSync<User>();
  return (
    <p data-testid={label}>
      {status}:{user?.name ?? "-"}:{error?.message ?? ""}
    </p>
  );
}

function App(props: { sync: () => Promise<{ outcome: string; user: User | null }>; load?: () => Promise<User | null>; retry?: undefined }) {
  return (
    <StrictMode>
      <UserSyncProvider sync={props.sync} load={props.load}>
        <Status label="a" />
        <Status label="b" />
        <Status label="c" />
      </UserSyncProvider>
    </StrictMode>
  );
}

const synced = (name = "Ada") => Promise.resolve({ outcome: "created", user: { id: "user_1", name } });

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

class TRPCLikeError extends Error {
  constructor(message: string, readonly data: { code: string; retryAfterSeconds?: number | null }) {
    super(message);
  }
}

beforeEach(() => {
  window.localStorage.clear();
  auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_1", userId: "user_1" };
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("UserSyncProvider", () => {
  it("fires once under StrictMode with three components using the hook", async () => {
    const sync = vi.fn(() => synced());
    render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("c").textContent).toBe("synced:Ada:"));
    expect(screen.getByTestId("a").textContent).toBe("synced:Ada:");
    expect(sync).toHaveBeenCalledTimes(1);
  });

  it("renders children before the sync resolves", async () => {
    const pending = deferred<{ outcome: string; user: User | null }>();
    const sync = vi.fn(() => pending.promise);
    render(<App sync={sync} />);
    expect(screen.getByTestId("a").textContent).toBe("syncing:-:");
    await act(async () => pending.resolve({ outcome: "created", user: { id: "user_1", name: "Ada" } }));
    expect(screen.getByTestId("a").textContent).toBe("synced:Ada:");
  });

  it("never fires while signed out or before Clerk has loaded", async () => {
    const sync = vi.fn(() => synced());
    auth.current = { isLoaded: false, isSignedIn: false, sessionId: null, userId: null };
    const { rerender } = render(<App sync={sync} />);
    auth.current = { isLoaded: true, isSignedIn: false, sessionId: null, userId: null };
    rerender(<App sync={sync} />);
    await act(() => Promise.resolve());
    expect(sync).not.toHaveBeenCalled();
    expect(screen.getByTestId("a").textContent).toBe("idle:-:");
  });

  it("fires again for a new session (sign-in again, account switch), not for re-renders", async () => {
    const sync = vi.fn(() => synced());
    const { rerender } = render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:Ada:"));
    rerender(<App sync={sync} />);
    expect(sync).toHaveBeenCalledTimes(1);
    auth.current = { isLoaded: true, isSignedIn: false, sessionId: null, userId: null };
    rerender(<App sync={sync} />);
    expect(screen.getByTestId("a").textContent).toBe("idle:-:");
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_2", userId: "user_1" };
    sync.mockImplementation(() => synced("Grace"));
    rerender(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:Grace:"));
    expect(sync).toHaveBeenCalledTimes(2);
  });

  it("does not fire again after a reload or in another tab of the same session", async () => {
    const sync = vi.fn(() => synced());
    render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:Ada:"));
    cleanup();
    // A new page (reload, or a tab sharing localStorage) in the same Clerk session.
    const load = vi.fn(() => Promise.resolve({ id: "user_1", name: "Ada" }));
    render(<App sync={sync} load={load} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:Ada:"));
    expect(sync).toHaveBeenCalledTimes(1);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("shows no user after the sync found the user deleted in Clerk", async () => {
    const sync = vi.fn(() => Promise.resolve({ outcome: "deleted", user: { id: "user_1", name: "" } }));
    render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:-:"));
  });

  it("ignores a result that arrives after the session changed", async () => {
    const first = deferred<{ outcome: string; user: User | null }>();
    const sync = vi.fn().mockImplementationOnce(() => first.promise).mockImplementation(() => synced("Grace"));
    const { rerender } = render(<App sync={sync} />);
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_2", userId: "user_1" };
    rerender(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("a").textContent).toBe("synced:Grace:"));
    await act(async () => first.resolve({ outcome: "created", user: { id: "user_1", name: "Ada" } }));
    expect(screen.getByTestId("a").textContent).toBe("synced:Grace:");
  });

  it("retries a retriable failure with backoff and honours Retry-After", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const sync = vi
      .fn<() => Promise<{ outcome: string; user: User | null }>>()
      .mockRejectedValueOnce(new TRPCLikeError("Clerk's Backend API failed (500)", { code: "BAD_GATEWAY" }))
      .mockRejectedValueOnce(new TRPCLikeError("rate limited", { code: "TOO_MANY_REQUESTS", retryAfterSeconds: 20 }))
      .mockImplementation(() => synced());
    render(<App sync={sync} retry={undefined} />);
    await act(() => Promise.resolve());
    expect(screen.getByTestId("a").textContent).toBe("error:-:Clerk's Backend API failed (500)");
    await act(() => vi.advanceTimersByTimeAsync(1_000)); // first backoff: 0.5–1 s
    expect(sync).toHaveBeenCalledTimes(2);
    expect(screen.getByTestId("a").textContent).toBe("error:-:rate limited");
    await act(() => vi.advanceTimersByTimeAsync(19_000));
    expect(sync).toHaveBeenCalledTimes(2);
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(sync).toHaveBeenCalledTimes(3);
    expect(screen.getByTestId("a").textContent).toBe("synced:Ada:");
  });

  it("does not retry a failure the same request cannot fix", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const sync = vi.fn(() => Promise.reject(new TRPCLikeError("bad input", { code: "BAD_REQUEST" })));
    render(<App sync={sync} />);
    for (let step = 0; step < 10; step++) await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(sync).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId("a").textContent).toBe("error:-:bad input");
  });

  it("stops after the bounded number of attempts", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const sync = vi.fn(() => Promise.reject(new TRPCLikeError("down", { code: "BAD_GATEWAY" })));
    render(
      <StrictMode>
        <UserSyncProvider sync={sync} retry={{ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 }}>
          <Status label="a" />
        </UserSyncProvider>
      </StrictMode>,
    );
    // One act per step: React commits the state that schedules the next retry when act ends.
    for (let step = 0; step < 20; step++) await act(() => vi.advanceTimersByTimeAsync(3_000));
    expect(sync).toHaveBeenCalledTimes(3);
    expect(screen.getByTestId("a").textContent).toBe("error:-:down");
  });

  it("throws a clear error when used outside the provider", () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    expect(() => render(<Status label="x" />)).toThrow(/inside <UserSyncProvider>/);
  });
});

/** Every render of a component reading Clerk's session and the sync state, as the page would show it. */
type Frame = { sessionId: string | null; clerkUserId: string | null; status: string; shownUserId: string | null; shownName: string | null };

function Recorder({ frames }: { frames: Frame[] }) {
  const { sessionId, userId } = useAuth();
  const { status, user } = useUserSync<User>();
  frames.push({ sessionId: sessionId ?? null, clerkUserId: userId ?? null, status, shownUserId: user?.id ?? null, shownName: user?.name ?? null });
  return (
    <p data-testid="shown">
      {status}:{user?.name ?? "-"}
    </p>
  );
}

function SwitchingApp(props: { frames: Frame[]; sync: () => Promise<{ outcome: string; user: User | null }>; load?: () => Promise<User | null> }) {
  return (
    <StrictMode>
      <UserSyncProvider sync={props.sync} load={props.load}>
        <Recorder frames={props.frames} />
      </UserSyncProvider>
    </StrictMode>
  );
}

const ada: User = { id: "user_a", name: "Ada" };
const grace: User = { id: "user_b", name: "Grace" };
const sessionA: AuthState = { isLoaded: true, isSignedIn: true, sessionId: "sess_a", userId: "user_a" };
const sessionB: AuthState = { isLoaded: true, isSignedIn: true, sessionId: "sess_b", userId: "user_b" };

/** Renders that show a user other than the signed-in Clerk user: must stay empty. */
function foreignFrames(frames: Frame[]) {
  return frames.filter((frame) => frame.shownUserId !== null && frame.shownUserId !== frame.clerkUserId);
}

describe("UserSyncProvider across an account switch (no reload)", () => {
  beforeEach(() => {
    auth.current = sessionA;
  });

  it("never renders the previous account's user under the new session: not on the switch, not while it syncs, not after it fails", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const frames: Frame[] = [];
    const pendingB = deferred<{ outcome: string; user: User | null }>();
    let rejectB!: (error: Error) => void;
    const failingB = new Promise<{ outcome: string; user: User | null }>((_, reject) => (rejectB = reject));
    const sync = vi
      .fn<() => Promise<{ outcome: string; user: User | null }>>()
      .mockImplementationOnce(() => Promise.resolve({ outcome: "created", user: ada }))
      .mockImplementationOnce(() => failingB)
      .mockImplementationOnce(() => pendingB.promise);
    const { rerender } = render(<SwitchingApp frames={frames} sync={sync} />);
    await act(() => Promise.resolve());
    expect(screen.getByTestId("shown").textContent).toBe("synced:Ada");

    // clerk-js setActive(B): Clerk's session and user change in one emit.
    auth.current = sessionB;
    rerender(<SwitchingApp frames={frames} sync={sync} />);
    await act(() => Promise.resolve());
    expect(screen.getByTestId("shown").textContent).toBe("syncing:-");
    await act(async () => rejectB(new TRPCLikeError("Clerk's Backend API failed (500)", { code: "BAD_GATEWAY" })));
    expect(screen.getByTestId("shown").textContent).toBe("error:-");
    // The retry is pending for a while; B still sees nothing of A.
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(sync).toHaveBeenCalledTimes(3);
    expect(screen.getByTestId("shown").textContent).toBe("syncing:-");
    await act(async () => pendingB.resolve({ outcome: "created", user: grace }));
    expect(screen.getByTestId("shown").textContent).toBe("synced:Grace");

    const underB = frames.filter((frame) => frame.sessionId === "sess_b");
    // The recorder saw B's first render, its pending sync, its failure and its success.
    expect(underB[0]?.status).toBe("idle");
    expect(new Set(underB.map((frame) => frame.status))).toEqual(new Set(["idle", "syncing", "error", "synced"]));
    expect(underB.filter((frame) => frame.shownName === "Ada")).toEqual([]);
    expect(foreignFrames(frames)).toEqual([]);
  });

  it("A → B → A: a row loaded from a cache that is not per session is never shown under the wrong account; the session syncs instead", async () => {
    const frames: Frame[] = [];
    // The host's old wiring: one `user.me` cache entry for every session, fresh for 30 s.
    let cached: User | null = null;
    const sync = vi.fn(async () => {
      cached = auth.current.userId === ada.id ? ada : grace;
      return { outcome: "updated", user: cached };
    });
    const load = vi.fn(async () => cached);
    const { rerender } = render(<SwitchingApp frames={frames} sync={sync} load={load} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("synced:Ada"));
    auth.current = sessionB;
    rerender(<SwitchingApp frames={frames} sync={sync} load={load} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("synced:Grace"));
    // Back to A's session, which already synced (its marker is set): the provider loads, gets Grace's row.
    auth.current = sessionA;
    rerender(<SwitchingApp frames={frames} sync={sync} load={load} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("synced:Ada"));

    expect(load).toHaveBeenCalledTimes(1);
    expect(sync).toHaveBeenCalledTimes(3);
    expect(frames.filter((frame) => frame.sessionId === "sess_a" && frame.shownName === "Grace")).toEqual([]);
    expect(foreignFrames(frames)).toEqual([]);
  });

  it("does not show a sync answer that belongs to another account, and retries", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const frames: Frame[] = [];
    // The request left with another session's cookie (clerk-js switched it underneath).
    const sync = vi
      .fn<() => Promise<{ outcome: string; user: User | null }>>()
      .mockImplementationOnce(() => Promise.resolve({ outcome: "updated", user: grace }))
      .mockImplementation(() => Promise.resolve({ outcome: "updated", user: ada }));
    render(<SwitchingApp frames={frames} sync={sync} />);
    await act(() => Promise.resolve());
    expect(screen.getByTestId("shown").textContent).toBe("error:-");
    expect(window.localStorage.getItem("clerk-user-sync:v1:sess_a")).toBeNull();
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(screen.getByTestId("shown").textContent).toBe("synced:Ada");
    expect(sync).toHaveBeenCalledTimes(2);
    expect(foreignFrames(frames)).toEqual([]);
  });

  it("reports what the last sync did and when, keeps it through a failed resync, and has none after a reload", async () => {
    function LastSync() {
      const { status, lastSync, resync } = useUserSync<User>();
      return (
        <button type="button" data-testid="last" onClick={resync}>
          {status}:{lastSync ? `${lastSync.outcome}@${lastSync.atMs}` : "none"}
        </button>
      );
    }
    const tree = (sync: () => Promise<{ outcome: string; user: User | null }>, load?: () => Promise<User | null>) => (
      <UserSyncProvider sync={sync} load={load} retry={{ maxAttempts: 1 }}>
        <LastSync />
      </UserSyncProvider>
    );
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_1", userId: "user_1" };
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const sync = vi
      .fn<() => Promise<{ outcome: string; user: User | null }>>()
      .mockImplementationOnce(() => Promise.resolve({ outcome: "deleted", user: null }))
      .mockImplementation(() => Promise.reject(new TRPCLikeError("Clerk is down", { code: "BAD_GATEWAY" })));
    render(tree(sync));
    await waitFor(() => expect(screen.getByTestId("last").textContent).toBe("synced:deleted@1700000000000"));
    vi.setSystemTime(1_700_000_060_000);
    await act(async () => screen.getByTestId("last").click());
    await waitFor(() => expect(screen.getByTestId("last").textContent).toBe("error:deleted@1700000000000"));
    cleanup();
    // A reload of a session that synced earlier (its marker set): nothing synced in this tab.
    window.localStorage.setItem("clerk-user-sync:v1:sess_1", "1");
    render(tree(sync, () => Promise.resolve({ id: "user_1", name: "Ada" })));
    await waitFor(() => expect(screen.getByTestId("last").textContent).toBe("synced:none"));
  });
});
