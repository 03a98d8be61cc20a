// @vitest-environment jsdom
/**
 * The host's per-session client state (its React Query cache): Clerk's `useAuth` is the input
 * here, driven directly; the real clerk-js in a real browser is proven by e2e/account-switch.spec.ts.
 */
import { cleanup, render } from "@testing-library/react";
import { StrictMode, useEffect, useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { useSessionScoped } from "./index";

type AuthState = { isLoaded: boolean; sessionId: string | null | undefined };
const auth = vi.hoisted((): { current: AuthState } => ({ current: { isLoaded: false, sessionId: undefined } }));
vi.mock("@clerk/nextjs", () => ({ useAuth: () => auth.current }));

type Cache = { serial: number };

/** What a page under the scope sees on each render: the cache, and which mount of the subtree it is. */
type Seen = { cache: number; mount: number };
let mountSerial = 0;

function Child({ cache, seen, mounts }: { cache: Cache; seen: Seen[]; mounts: Set<number> }) {
  const [mount] = useState(() => ++mountSerial);
  seen.push({ cache: cache.serial, mount });
  useEffect(() => {
    mounts.add(mount);
  }, [mounts, mount]);
  return null;
}

function Scope({ create, seen, mounts }: { create: () => Cache; seen: Seen[]; mounts: Set<number> }) {
  const { key, value } = useSessionScoped(create);
  return <Child key={key} cache={value} seen={seen} mounts={mounts} />;
}

function setup() {
  let serial = 0;
  const create = vi.fn(() => ({ serial: ++serial }));
  const seen: Seen[] = [];
  const mounts = new Set<number>();
  const app = () => (
    <StrictMode>
      <Scope create={create} seen={seen} mounts={mounts} />
    </StrictMode>
  );
  const view = render(app());
  const rerender = (next: AuthState) => {
    auth.current = next;
    view.rerender(app());
  };
  return { create, seen, mounts, rerender, last: () => seen.at(-1)! };
}

afterEach(() => {
  cleanup();
  auth.current = { isLoaded: false, sessionId: undefined };
});

describe("useSessionScoped", () => {
  it("keeps the page's first cache while Clerk loads and when Clerk reports the session: loading remounts nothing", () => {
    const { create, mounts, rerender, last } = setup();
    const first = last();
    rerender({ isLoaded: true, sessionId: "sess_a" });
    rerender({ isLoaded: true, sessionId: "sess_a" });
    expect(last()).toEqual(first);
    expect(create).toHaveBeenCalledTimes(1);
    expect(mounts.size).toBe(1);
  });

  it("gives each new session a new cache and remounts the subtree on the very render of the switch: A → B → signed out → A", () => {
    auth.current = { isLoaded: true, sessionId: "sess_a" };
    const { seen, mounts, rerender, last } = setup();
    const underA = last();
    rerender({ isLoaded: true, sessionId: "sess_b" });
    const underB = last();
    rerender({ isLoaded: true, sessionId: null });
    const signedOut = last();
    rerender({ isLoaded: true, sessionId: "sess_a" });
    const backUnderA = last();

    // Four caches, four mounts: A's first cache is not handed back to A either (fresh after a switch).
    expect(new Set([underA.cache, underB.cache, signedOut.cache, backUnderA.cache]).size).toBe(4);
    expect(new Set([underA.mount, underB.mount, signedOut.mount, backUnderA.mount]).size).toBe(4);
    expect(mounts.size).toBe(4);
    // No render of the subtree after the switch to B used A's cache or A's mounted state.
    const fromSwitch = seen.slice(seen.findIndex((s) => s.cache === underB.cache));
    expect(fromSwitch.filter((s) => s.cache === underA.cache || s.mount === underA.mount)).toEqual([]);
  });

  it("is stable across re-renders of one session (token refreshes re-render with the same session)", () => {
    auth.current = { isLoaded: true, sessionId: "sess_a" };
    const { create, rerender, last } = setup();
    const first = last();
    for (let i = 0; i < 5; i++) rerender({ isLoaded: true, sessionId: "sess_a" });
    expect(last()).toEqual(first);
    expect(create).toHaveBeenCalledTimes(1);
  });
});
