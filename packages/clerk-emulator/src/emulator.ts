import { BapiFaults, CallCounters } from "./faults";
import { HttpError, sleep, type Cookie } from "./http";
import { loadIdentity, loadOtherInstance, type EmulatorIdentity, type OtherInstance } from "./identity";
import { mintSessionToken } from "./jwt";
import { defaultRateLimits, RateLimiter, type RateLimitSettings } from "./rate-limits";
import { SessionStore, type EmulatorClient } from "./sessions";
import { demoUsers, UserStore, userJson, type EmulatorUser, type UserInput, type UserPatch } from "./users";
import { WebhookDispatcher, type Delivery } from "./webhooks";

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
  /** The one secret key the Backend API accepts (default: the instance's `sk_live_…`); its type picks the rate limits. */
  secretKey?: string;
  /** Changes to Clerk's Backend API limits (default: on, with the limits of the key's type). */
  rateLimits?: Partial<RateLimitSettings>;
  /** Real time let pass between the steps of an email change (default 5 ms); Clerk's steps are separate requests. */
  emailChangePauseMs?: number;
};

/** Which instance the Backend API answers as: `other` is a secret key of another instance. */
export type BackendInstance = "self" | "other";

export const defaultEmailChangePauseMs = 5;

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

/** An http(s) URL on this machine: the only places the emulator redirects to or posts webhooks to. */
export function isLoopbackUrl(value: string) {
  const url = parseUrl(value);
  return url !== null && isLoopback(url);
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
  readonly rateLimits: RateLimiter;
  readonly emailChangePauseMs: number;
  backendInstance: BackendInstance = "self";
  private readonly stateDir: string;
  private other: (OtherInstance & { users: UserStore }) | null = null;

  constructor(options: ClerkEmulatorOptions) {
    this.origin = `http://localhost:${options.port}`;
    this.appUrl = new URL(options.appUrl).origin;
    this.stateDir = options.stateDir;
    const identity = loadIdentity(options.stateDir);
    this.identity = options.secretKey ? { ...identity, secretKey: options.secretKey } : identity;
    this.users = new UserStore({ seeds: options.seeds ?? demoUsers, file: options.usersFile });
    this.clerkJsDir = options.clerkJsDir;
    this.log = options.log ?? (() => undefined);
    this.rateLimits = new RateLimiter({ ...defaultRateLimits(this.identity.secretKey), ...options.rateLimits });
    this.emailChangePauseMs = options.emailChangePauseMs ?? defaultEmailChangePauseMs;
    this.webhooks = new WebhookDispatcher({
      url: `${this.appUrl}/api/webhooks/clerk`,
      signingSecret: this.identity.webhookSigningSecret,
      instanceId: this.identity.instanceId,
      log: this.log,
    });
  }

  /**
   * Back to the seeded users, no sessions, no faults, no deliveries, zero counters, Clerk's
   * rate limits with empty windows, the Backend API answering as this instance. Emits nothing.
   */
  reset() {
    this.users.reset();
    this.sessions.reset();
    this.webhooks.reset();
    this.faults.clear();
    this.counters.reset();
    this.images.clear();
    this.rateLimits.reset();
    this.backendInstance = "self";
    this.other?.users.reset();
  }

  /** The other instance (its key generated on first use): no users until its Backend API creates some. */
  get otherInstance() {
    this.other ??= { ...loadOtherInstance(this.stateDir), users: new UserStore({ seeds: [] }) };
    return this.other;
  }

  /** The users the Backend API sees: this instance's, or the other instance's when switched. */
  backendUsers(): UserStore {
    return this.backendInstance === "self" ? this.users : this.otherInstance.users;
  }

  /** The other instance's changes are not this app's: only this instance's are sent as webhooks. */
  private announce(store: UserStore, type: "user.created" | "user.updated", user: EmulatorUser): Delivery | null {
    return store === this.users ? this.webhooks.emit(type, userJson(user, this.origin)) : null;
  }

  createUser(input: UserInput, store = this.users) {
    const user = store.create(input);
    this.announce(store, "user.created", user);
    return user;
  }

  /** `count` users at once, like an import: no webhooks (a benchmark's users the mirror has not seen). */
  createUsersInBulk(count: number, prefix?: string) {
    return this.users.createMany(count, prefix);
  }

  updateUser(id: string, patch: UserPatch, store = this.users) {
    const user = store.update(id, patch);
    if (user) this.announce(store, "user.updated", user);
    return user;
  }

  /** Banning revokes the user's sessions and refuses new sign-ins, as on Clerk. */
  setBanned(id: string, banned: boolean, store = this.users) {
    const user = store.setBanned(id, banned);
    if (!user) return null;
    if (banned && store === this.users) this.sessions.revokeUser(id);
    this.announce(store, "user.updated", user);
    return user;
  }

  setProfileImage(id: string, image: { contentType: string; data: Buffer }, store = this.users) {
    const imagePath = `/images/uploads/${id}-${Date.now()}`;
    const user = store.setUploadedImage(id, imagePath);
    if (!user) return null;
    this.images.set(imagePath, image);
    this.announce(store, "user.updated", user);
    return user;
  }

  deleteUser(id: string, store = this.users) {
    if (!store.delete(id)) return false;
    if (store === this.users) {
      this.sessions.revokeUser(id);
      this.webhooks.emit("user.deleted", { id, object: "user", deleted: true });
    }
    return true;
  }

  /** `POST /v1/email_addresses`: one request, one `user.updated`. */
  createEmailAddress(userId: string, emailAddress: string, options: { verified: boolean; primary: boolean }, store = this.users) {
    const added = store.addEmailAddress(userId, emailAddress, { verified: options.verified });
    if (!added) return null;
    if (options.primary) store.setPrimaryEmailAddress(added.address.id);
    this.announce(store, "user.updated", added.user);
    return added;
  }

  /** `PATCH /v1/email_addresses/:id`: verify and/or make primary, one `user.updated`. */
  updateEmailAddress(emailAddressId: string, patch: { verified?: boolean; primary?: boolean }, store = this.users) {
    const found = store.findByEmailAddressId(emailAddressId);
    if (!found) return null;
    if (patch.verified) store.verifyEmailAddress(emailAddressId);
    if (patch.primary) store.setPrimaryEmailAddress(emailAddressId);
    if (patch.verified || patch.primary) this.announce(store, "user.updated", found.user);
    return found;
  }

  deleteEmailAddress(emailAddressId: string, store = this.users) {
    const deleted = store.deleteEmailAddress(emailAddressId);
    if (deleted) this.announce(store, "user.updated", deleted.user);
    return deleted;
  }

  /**
   * A primary email change the way Clerk makes one: add the new address (unverified), verify
   * it, make it primary, delete the old one. Each step is its own change with its own
   * `updated_at` and its own `user.updated`, with `pauseMs` of real time between steps (on
   * Clerk they are separate requests: the user types a code between add and verify).
   * An address the user already has skips the steps it does not need.
   */
  async changePrimaryEmail(userId: string, emailAddress: string, options: { pauseMs?: number } = {}) {
    const pauseMs = options.pauseMs ?? this.emailChangePauseMs;
    const user = this.users.get(userId);
    if (!user) return null;
    const oldPrimaryId = user.primaryEmailAddressId;
    const deliveries: Delivery[] = [];
    const step = (changed: EmulatorUser | undefined) => {
      if (!changed) throw new HttpError(404, "resource_not_found", "The user was deleted during the email change");
      deliveries.push(this.webhooks.emit("user.updated", userJson(changed, this.origin)));
    };
    let address = user.emailAddresses.find((a) => a.emailAddress.toLowerCase() === emailAddress.toLowerCase());
    if (address?.id === oldPrimaryId) return { user, deliveries };
    if (!address) {
      const added = this.users.addEmailAddress(userId, emailAddress, { verified: false });
      step(added?.user);
      address = added!.address;
      await sleep(pauseMs);
    }
    if (!address.verified) {
      step(this.users.verifyEmailAddress(address.id)?.user);
      await sleep(pauseMs);
    }
    step(this.users.setPrimaryEmailAddress(address.id)?.user);
    if (oldPrimaryId && this.users.findByEmailAddressId(oldPrimaryId)) {
      await sleep(pauseMs);
      step(this.users.deleteEmailAddress(oldPrimaryId)?.user);
    }
    return { user: this.users.get(userId) ?? user, deliveries };
  }

  /**
   * Signs `userId` in on `client` (a new one when null): returns the session, a token and the
   * Set-Cookie lines. Records the sign-in on the user (its clocks move; no webhook, as far as
   * Clerk's documentation tells). A banned user cannot sign in.
   */
  signIn(client: EmulatorClient | null, userId: string) {
    if (this.users.get(userId)?.banned) throw new HttpError(403, "user_banned", "This account is banned");
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
