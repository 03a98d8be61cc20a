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
 * A browser, as Clerk's Frontend API sees it: identified by the HttpOnly `__client` cookie,
 * holding at most one active session (single-session mode).
 */
export type EmulatorClient = {
  id: string;
  /** The `__client` cookie value. */
  token: string;
  sessions: EmulatorSession[];
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

  activeSession(client: EmulatorClient | null) {
    return client?.sessions.find((s) => s.status === "active") ?? null;
  }

  findSession(sessionId: string) {
    for (const client of this.clients.values()) {
      const session = client.sessions.find((s) => s.id === sessionId);
      if (session) return { client, session };
    }
    return null;
  }

  /** Starts a session for `userId` in `client` (created when null), ending the client's other sessions. */
  signIn(client: EmulatorClient | null, userId: string, nowMs = Date.now()) {
    const target = client ?? this.createClient(nowMs);
    for (const session of target.sessions) if (session.status === "active") session.status = "ended";
    const session: EmulatorSession = { id: newId("sess"), userId, status: "active", createdAtMs: nowMs, lastActiveAtMs: nowMs };
    target.sessions.push(session);
    target.uatSeconds = Math.floor(nowMs / 1000);
    target.updatedAtMs = nowMs;
    return { client: target, session };
  }

  end(client: EmulatorClient, sessionId?: string, status: EmulatorSession["status"] = "ended", nowMs = Date.now()) {
    for (const session of client.sessions) {
      if (session.status === "active" && (!sessionId || session.id === sessionId)) session.status = status;
    }
    if (!this.activeSession(client)) client.uatSeconds = 0;
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
      uatSeconds: 0,
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    this.clients.set(client.token, client);
    return client;
  }
}
