import { BapiFaults, CallCounters } from "./faults";
import type { Cookie } from "./http";
import { loadIdentity, type EmulatorIdentity } from "./identity";
import { mintSessionToken } from "./jwt";
import { SessionStore, type EmulatorClient } from "./sessions";
import { demoUsers, UserStore, userJson, type UserInput, type UserPatch } from "./users";
import { WebhookDispatcher } from "./webhooks";

export type ClerkEmulatorOptions = {
  port: number;
  /** The app's origin: CORS, redirects after sign-in, `azp`, webhook target. */
  appUrl: string;
  stateDir: string;
  /** Keep users across restarts in this JSON file (the demo does); unset: seeds on every start. */
  usersFile?: string;
  seeds?: UserInput[];
  /** The unpacked `@clerk/clerk-js` `dist` folder served at `/clerk-js/`. */
  clerkJsDir: string | null;
  log?: (line: string) => void;
};

const yearSeconds = 365 * 24 * 60 * 60;

/** `URL.parse` (Node ≥ 20.18) for the engines range this project allows. */
function parseUrl(value: string, base?: string) {
  try {
    return new URL(value, base);
  } catch {
    return null;
  }
}

function isLoopback(url: URL) {
  return (url.protocol === "http:" || url.protocol === "https:") && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

/** The emulator's state and the operations that change it; HTTP routes are thin adapters over it. */
export class ClerkEmulator {
  readonly origin: string;
  readonly appUrl: string;
  readonly identity: EmulatorIdentity;
  readonly users: UserStore;
  readonly sessions = new SessionStore();
  readonly webhooks: WebhookDispatcher;
  readonly faults = new BapiFaults();
  readonly counters = new CallCounters();
  /** Uploaded profile images by path. */
  readonly images = new Map<string, { contentType: string; data: Buffer }>();
  readonly clerkJsDir: string | null;
  readonly log: (line: string) => void;

  constructor(options: ClerkEmulatorOptions) {
    this.origin = `http://localhost:${options.port}`;
    this.appUrl = new URL(options.appUrl).origin;
    this.identity = loadIdentity(options.stateDir);
    this.users = new UserStore({ seeds: options.seeds ?? demoUsers, file: options.usersFile });
    this.clerkJsDir = options.clerkJsDir;
    this.log = options.log ?? (() => undefined);
    this.webhooks = new WebhookDispatcher({
      url: `${this.appUrl}/api/webhooks/clerk`,
      signingSecret: this.identity.webhookSigningSecret,
      instanceId: this.identity.instanceId,
      log: this.log,
    });
  }

  /** Back to the seeded users, no sessions, no faults, no deliveries, zero counters. Emits nothing. */
  reset() {
    this.users.reset();
    this.sessions.reset();
    this.webhooks.reset();
    this.faults.clear();
    this.counters.reset();
    this.images.clear();
  }

  createUser(input: UserInput) {
    const user = this.users.create(input);
    this.webhooks.emit("user.created", userJson(user, this.origin));
    return user;
  }

  updateUser(id: string, patch: UserPatch) {
    const user = this.users.update(id, patch);
    if (user) this.webhooks.emit("user.updated", userJson(user, this.origin));
    return user;
  }

  setProfileImage(id: string, image: { contentType: string; data: Buffer }) {
    const imagePath = `/images/uploads/${id}-${Date.now()}`;
    const user = this.users.setUploadedImage(id, imagePath);
    if (!user) return null;
    this.images.set(imagePath, image);
    this.webhooks.emit("user.updated", userJson(user, this.origin));
    return user;
  }

  deleteUser(id: string) {
    if (!this.users.delete(id)) return false;
    this.sessions.revokeUser(id);
    this.webhooks.emit("user.deleted", { id, object: "user", deleted: true });
    return true;
  }

  /** Signs `userId` in on `client` (a new one when null): returns the session, a token and the Set-Cookie lines. */
  signIn(client: EmulatorClient | null, userId: string) {
    this.users.recordSignIn(userId);
    const signedIn = this.sessions.signIn(client, userId);
    const token = this.mintToken(userId, signedIn.session.id);
    return { ...signedIn, token, cookies: this.authCookies(signedIn.client, token) };
  }

  mintToken(userId: string, sessionId: string) {
    return mintSessionToken(this.identity, { userId, sessionId, authorizedParty: this.appUrl });
  }

  /**
   * What the real Frontend API keeps on the app's domain: `__client` (which browser), and the
   * server SDK's `__session` / `__client_uat`, each also with the instance's cookie suffix.
   * With no token the session cookies are cleared and `__client_uat` is `0` (signed out).
   */
  authCookies(client: EmulatorClient | null, token: string | null): Cookie[] {
    const cookies: Cookie[] = client ? [{ name: "__client", value: client.token, maxAgeSeconds: yearSeconds, httpOnly: true }] : [];
    return [...cookies, ...this.clientUatCookies(token && client ? client.uatSeconds : 0), ...this.sessionCookies(token)];
  }

  clientUatCookies(uatSeconds: number): Cookie[] {
    const names = ["__client_uat", `__client_uat_${this.identity.cookieSuffix}`];
    return names.map((name) => ({ name, value: String(uatSeconds), maxAgeSeconds: yearSeconds }));
  }

  /** clerk-js writes the same cookies itself (host-only, path `/`), so they replace each other. */
  sessionCookies(token: string | null): Cookie[] {
    const names = ["__session", `__session_${this.identity.cookieSuffix}`];
    return names.map((name) => ({ name, value: token ?? "", maxAgeSeconds: token ? yearSeconds : 0 }));
  }

  /** Only the app's origin or another loopback page; anything else lands on the app. */
  safeRedirect(target: string | null | undefined): string {
    if (!target) return `${this.appUrl}/`;
    const url = parseUrl(target, this.appUrl);
    return url && isLoopback(url) ? url.href : `${this.appUrl}/`;
  }

  isAllowedOrigin(origin: string | undefined) {
    if (!origin) return false;
    const url = parseUrl(origin);
    return origin === this.appUrl || (url !== null && isLoopback(url));
  }
}
