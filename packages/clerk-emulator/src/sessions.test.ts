import { describe, expect, it } from "vitest";

import { SessionStore } from "./sessions";

// Clerk's multi-session mode as the emulator keeps it: what clerk-js reads from `GET /v1/client`.
describe("SessionStore (multi-session)", () => {
  it("signs a second account in beside the first, and makes it the last active session", () => {
    const store = new SessionStore();
    const ada = store.signIn(null, "user_ada", 1_000);
    const grace = store.signIn(ada.client, "user_grace", 2_000);
    expect(grace.client).toBe(ada.client);
    expect(ada.client.sessions.map((s) => [s.userId, s.status])).toEqual([
      ["user_ada", "active"],
      ["user_grace", "active"],
    ]);
    expect(store.activeSession(ada.client)?.id).toBe(grace.session.id);
  });

  it("keeps an account's session when it signs in again on the same client", () => {
    const store = new SessionStore();
    const first = store.signIn(null, "user_ada", 1_000);
    store.signIn(first.client, "user_grace", 2_000);
    const again = store.signIn(first.client, "user_ada", 3_000);
    expect(again.session.id).toBe(first.session.id);
    expect(first.client.sessions).toHaveLength(2);
    expect(store.activeSession(first.client)?.id).toBe(first.session.id);
  });

  it("touch (clerk-js setActive) moves the last active session; ending it falls back to another account", () => {
    const store = new SessionStore();
    const ada = store.signIn(null, "user_ada", 1_000);
    const grace = store.signIn(ada.client, "user_grace", 2_000);
    store.touch(ada.client, ada.session, 3_000);
    expect(ada.client.lastActiveSessionId).toBe(ada.session.id);
    store.end(ada.client, ada.session.id, "removed", 4_000);
    expect(store.activeSession(ada.client)?.id).toBe(grace.session.id);
    expect(ada.client.uatSeconds).toBe(2);
  });

  it("signing out of every account leaves no active session and a zero __client_uat", () => {
    const store = new SessionStore();
    const ada = store.signIn(null, "user_ada", 1_000);
    store.signIn(ada.client, "user_grace", 2_000);
    store.end(ada.client);
    expect(store.activeSession(ada.client)).toBeNull();
    expect(ada.client.lastActiveSessionId).toBeNull();
    expect(ada.client.uatSeconds).toBe(0);
  });

  it("a deleted user's session is revoked; the other account stays signed in", () => {
    const store = new SessionStore();
    const ada = store.signIn(null, "user_ada", 1_000);
    const grace = store.signIn(ada.client, "user_grace", 2_000);
    store.revokeUser("user_grace");
    expect(grace.session.status).toBe("revoked");
    expect(store.activeSession(ada.client)?.id).toBe(ada.session.id);
  });
});
