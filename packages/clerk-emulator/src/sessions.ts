import { randomBytes } from "node:crypto";

import { newId } from "./users";

export type EmulatorSession = {
  id: string;
  userId: string;
  status: "active" | "ended" | "removed" | "revoked";
  createdAtMs: number;
  lastActiveAtMs: number;
};

/**
 * A browser, as Clerk's Frontend API sees it: identified by the HttpOnly `__client` cookie.
 * Multi-session mode (Clerk's "multi-session applications"): it holds one active session per
 * signed-in account, and one of them is the last active (`last_active_session_id`), which
 * clerk-js picks on load and `setActive` (a touch) changes.
 */
export type EmulatorClient = {
  id: string;
  /** The `__client` cookie value. */
  token: string;
  sessions: EmulatorSession[];
  lastActiveSessionId: string | null;
  /** Unix seconds of the last sign-in or sign-out: the `__client_uat` cookie. */
  uatSeconds: number;
  createdAtMs: number;
  updatedAtMs: number;
};

export class SessionStore {
  private readonly clients = new Map<string, EmulatorClient>();

  reset() {
    this.clients.clear();
  }

  byToken(token: string | undefined) {
    return token ? (this.clients.get(token) ?? null) : null;
  }

  /** The client's last active session, else its newest active one. */
  activeSession(client: EmulatorClient | null) {
    if (!client) return null;
    const active = client.sessions.filter((s) => s.status === "active");
    return active.find((s) => s.id === client.lastActiveSessionId) ?? active.at(-1) ?? null;
  }

  findSession(sessionId: string) {
    for (const client of this.clients.values()) {
      const session = client.sessions.find((s) => s.id === sessionId);
      if (session) return { client, session };
    }
    return null;
  }

  /**
   * Signs `userId` in on `client` (created when null) beside its other accounts, and makes it
   * the last active session. An account already signed in on this client keeps its session.
   */
  signIn(client: EmulatorClient | null, userId: string, nowMs = Date.now()) {
    const target = client ?? this.createClient(nowMs);
    let session = target.sessions.find((s) => s.userId === userId && s.status === "active");
    if (!session) {
      session = { id: newId("sess"), userId, status: "active", createdAtMs: nowMs, lastActiveAtMs: nowMs };
      target.sessions.push(session);
    }
    session.lastActiveAtMs = nowMs;
    target.lastActiveSessionId = session.id;
    target.uatSeconds = Math.floor(nowMs / 1000);
    target.updatedAtMs = nowMs;
    return { client: target, session };
  }

  /** `setActive` on this client: the session it switched to becomes the last active one. */
  touch(client: EmulatorClient, session: EmulatorSession, nowMs = Date.now()) {
    session.lastActiveAtMs = nowMs;
    client.lastActiveSessionId = session.id;
    client.updatedAtMs = nowMs;
  }

  /** Ends one session, or all of the client's (sign out of every account). */
  end(client: EmulatorClient, sessionId?: string, status: EmulatorSession["status"] = "ended", nowMs = Date.now()) {
    for (const session of client.sessions) {
      if (session.status === "active" && (!sessionId || session.id === sessionId)) session.status = status;
    }
    const next = this.activeSession(client);
    client.lastActiveSessionId = next?.id ?? null;
    if (!next) client.uatSeconds = 0;
    client.updatedAtMs = nowMs;
  }

  /** A deleted user's sessions stop working everywhere. */
  revokeUser(userId: string) {
    for (const client of this.clients.values()) {
      for (const session of client.sessions) {
        if (session.userId === userId && session.status === "active") this.end(client, session.id, "revoked");
      }
    }
  }

  private createClient(nowMs: number): EmulatorClient {
    const client: EmulatorClient = {
      id: newId("client"),
      token: randomBytes(24).toString("base64url"),
      sessions: [],
      lastActiveSessionId: null,
      uatSeconds: 0,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    this.clients.set(client.token, client);
    return client;
  }
}
