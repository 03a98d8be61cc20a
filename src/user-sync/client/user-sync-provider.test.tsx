// @vitest-environment jsdom
/**
 * The provider's once-per-session contract. Clerk's `useAuth` is the input here, so it is
 * driven directly; the real clerk-js in a real browser is proven by the e2e suite.
 */
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { UserSyncProvider, useUserSync } from "./index";

type AuthState = { isLoaded: boolean; isSignedIn: boolean; sessionId: string | null };
const auth = vi.hoisted((): { current: AuthState } => ({ current: { isLoaded: true, isSignedIn: true, sessionId: "sess_1" } }));
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
  auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_1" };
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
    auth.current = { isLoaded: false, isSignedIn: false, sessionId: null };
    const { rerender } = render(<App sync={sync} />);
    auth.current = { isLoaded: true, isSignedIn: false, sessionId: null };
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
    auth.current = { isLoaded: true, isSignedIn: false, sessionId: null };
    rerender(<App sync={sync} />);
    expect(screen.getByTestId("a").textContent).toBe("idle:-:");
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_2" };
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
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_2" };
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
