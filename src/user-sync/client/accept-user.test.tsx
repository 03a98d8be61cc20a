// @vitest-environment jsdom
/**
 * `acceptUser`: a row the app got from a profile edit is shown by every component at once, with
 * no sync, and only under the session and user it belongs to. Clerk's `useAuth` is driven
 * directly, as in user-sync-provider.test.tsx.
 */
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { useEffect } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { UserSyncProvider, useUserSync } from "./index";

type AuthState = { isLoaded: boolean; isSignedIn: boolean; sessionId: string | null; userId: string | null };
const auth = vi.hoisted((): { current: AuthState } => ({ current: { isLoaded: true, isSignedIn: true, sessionId: "sess_1", userId: "user_1" } }));
vi.mock("@clerk/nextjs", () => ({ useAuth: () => auth.current }));

type User = { id: string; name: string };

// What a profile form would call, captured from the rendered tree.
const handle: { accept: ((user: User) => void) | null } = { accept: null };

function Shown() {
  const { user, acceptUser } = useUserSync<User>();
  useEffect(() => {
    handle.accept = acceptUser;
  }, [acceptUser]);
  return <p data-testid="shown">{user?.name ?? "-"}</p>;
}

function App({ sync }: { sync: () => Promise<{ outcome: string; user: User | null }> }) {
  return (
    <UserSyncProvider sync={sync}>
      <Shown />
    </UserSyncProvider>
  );
}

beforeEach(() => {
  window.localStorage.clear();
  auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_1", userId: "user_1" };
});
afterEach(() => {
  cleanup();
  handle.accept = null;
});

describe("UserSyncProvider acceptUser", () => {
  it("shows the accepted row at once, without syncing again", async () => {
    const sync = vi.fn(() => Promise.resolve({ outcome: "created", user: { id: "user_1", name: "Ada" } }));
    render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("Ada"));
    act(() => handle.accept!({ id: "user_1", name: "Augusta Ada" }));
    expect(screen.getByTestId("shown").textContent).toBe("Augusta Ada");
    expect(sync).toHaveBeenCalledTimes(1);
  });

  it("ignores another user's row", async () => {
    render(<App sync={() => Promise.resolve({ outcome: "created", user: { id: "user_1", name: "Ada" } })} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("Ada"));
    act(() => handle.accept!({ id: "user_2", name: "Grace" }));
    expect(screen.getByTestId("shown").textContent).toBe("Ada");
  });

  it("after an account switch, ignores a row of the previous account (a late profile answer)", async () => {
    const sync = vi.fn(() =>
      Promise.resolve({ outcome: "created", user: auth.current.userId === "user_1" ? { id: "user_1", name: "Ada" } : { id: "user_2", name: "Grace" } }),
    );
    const { rerender } = render(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("Ada"));
    const acceptForFirstSession = handle.accept!;
    auth.current = { isLoaded: true, isSignedIn: true, sessionId: "sess_2", userId: "user_2" };
    rerender(<App sync={sync} />);
    await waitFor(() => expect(screen.getByTestId("shown").textContent).toBe("Grace"));
    act(() => acceptForFirstSession({ id: "user_1", name: "Augusta Ada" }));
    expect(screen.getByTestId("shown").textContent).toBe("Grace");
  });
});
