import { BapiFaults, CallCounters } from "./faults";
import { defaultFidelity, type FidelitySettings } from "./fidelity";
import { HttpError, sleep, type Cookie } from "./http";
import { loadIdentity, loadOtherInstance, type EmulatorIdentity, type OtherInstance } from "./identity";
import { mintSessionToken } from "./jwt";
import { defaultRateLimits, RateLimiter, type RateLimitSettings } from "./rate-limits";
import { SessionStore, type EmulatorClient, type EmulatorSession } from "./sessions";
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
  /** The unpacked `@clerk/ui` `dist` folder served at `/clerk-ui/`: the prebuilt components (see `ensureClerkBundles`). */
  clerkUiDir?: string | null;
  log?: (line: string) => void;
  /** The one secret key the Backend API accepts (default: the instance's `sk_live_…`); its type picks the rate limits. */
  secretKey?: string;
  /** Changes to Clerk's Backend API limits (default: on, with the limits of the key's type). */
  rateLimits?: Partial<RateLimitSettings>;
  /** Real time let pass between the steps of an email change (default 5 ms); Clerk's steps are separate requests. */
  emailChangePauseMs?: number;
  /** Where Clerk's behaviour is unknown or an instance setting (default `defaultFidelity`); `reset()` returns to these. */
  fidelity?: Partial<FidelitySettings>;
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
  readonly clerkUiDir: string | null;
  readonly log: (line: string) => void;
  readonly rateLimits: RateLimiter;
  readonly emailChangePauseMs: number;
  /** The switches for Clerk's unknowns (`/__control/fidelity`). */
  fidelity: FidelitySettings;
  private readonly startFidelity: FidelitySettings;
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
    this.clerkUiDir = options.clerkUiDir ?? null;
    this.log = options.log ?? (() => undefined);
    this.rateLimits = new RateLimiter({ ...defaultRateLimits(this.identity.secretKey), ...options.rateLimits });
    this.emailChangePauseMs = options.emailChangePauseMs ?? defaultEmailChangePauseMs;
    this.startFidelity = { ...defaultFidelity, ...options.fidelity };
    this.fidelity = { ...this.startFidelity };
    this.webhooks = new WebhookDispatcher({
      url: `${this.appUrl}/api/webhooks/clerk`,
      signingSecret: this.identity.webhookSigningSecret,
      instanceId: this.identity.instanceId,
      log: this.log,
    });
  }

  /**
   * Back to the seeded users, no sessions, no faults, no deliveries, zero counters, Clerk's
   * rate limits with empty windows, the fidelity switches it started with, the Backend API
   * answering as this instance. Emits nothing.
   */
  reset() {
    this.fidelity = { ...this.startFidelity };
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

  /**
   * `count` users at once, like an import: distinct clocks in creation order, and one
   * `user.created` each when `sendWebhooks` (as Clerk's `createUser` does for imports).
   */
  createUsersInBulk(count: number, options: { prefix?: string; sendWebhooks?: boolean } = {}) {
    const created = this.users.createMany(count, options.prefix);
    if (options.sendWebhooks) for (const user of created) this.announce(this.users, "user.created", user);
    return created;
  }

  /**
   * `PATCH /v1/users/:id`: the fields and, optionally, a new primary address, in one change and
   * one `user.updated`. A primary switch alone moves the clock only if `primarySwitchBumpsClock`.
   */
  updateUser(id: string, patch: UserPatch, store = this.users, primaryEmailAddressId?: string) {
    if (!store.get(id)) return null;
    if (primaryEmailAddressId !== undefined) store.setPrimaryEmailAddress(primaryEmailAddressId, { bumpClock: this.fidelity.primarySwitchBumpsClock });
    const user = Object.keys(patch).length > 0 || primaryEmailAddressId === undefined ? store.update(id, patch) : store.get(id);
    if (user) this.announce(store, "user.updated", user);
    return user;
  }

  /**
   * `PATCH /v1/users/:id/metadata` (`merge`: deep, a null removes a key at any level) or `PUT`
   * (`replace`: each field given is replaced whole). One change, one `user.updated`.
   */
  updateMetadata(id: string, metadata: MetadataPatch, mode: "merge" | "replace", store = this.users) {
    const current = store.get(id);
    if (!current) return null;
    const next = (field: keyof MetadataPatch, base: Record<string, unknown>) => {
      const given = metadata[field];
      if (given === undefined) return undefined;
      return mode === "replace" ? given : deepMerge(base, given);
    };
    return this.updateUser(
      id,
      {
        publicMetadata: next("publicMetadata", current.publicMetadata),
        privateMetadata: next("privateMetadata", current.privateMetadata),
        unsafeMetadata: next("unsafeMetadata", current.unsafeMetadata),
      },
      store,
    );
  }

  /** Banning revokes the user's sessions and refuses new sign-ins, as on Clerk. */
  setBanned(id: string, banned: boolean, store = this.users) {
    return this.announceStanding(store, store.setBanned(id, banned), banned);
  }

  /**
   * Locking refuses new sign-ins until the lock expires (`lockoutSeconds`) or is lifted; unlike
   * a ban it keeps the user's sessions (Clerk's docs).
   */
  setLocked(id: string, locked: boolean, store = this.users) {
    return this.announceStanding(store, store.setLocked(id, locked, this.fidelity.lockoutSeconds), false);
  }

  /** Deprovisioned by directory sync: sessions revoked, sign-in refused (Clerk's directory-sync docs). */
  setDeprovisioned(id: string, deprovisioned: boolean, store = this.users) {
    return this.announceStanding(store, store.setDeprovisioned(id, deprovisioned), deprovisioned);
  }

  /** A change of the user's standing is a change of the user (its clock, a `user.updated`); some end its sessions. */
  private announceStanding(store: UserStore, user: EmulatorUser | null, revokeSessions: boolean) {
    if (!user) return null;
    if (revokeSessions && store === this.users) this.sessions.revokeUser(user.id);
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

  /**
   * `POST /v1/email_addresses`: one request, one `user.updated`. Adding does not move the
   * user's clock (recorded); created verified or primary, those steps move it as their switches say.
   */
  createEmailAddress(userId: string, emailAddress: string, options: { verified: boolean; primary: boolean }, store = this.users) {
    const bumpClock = (options.verified && this.fidelity.verifyBumpsClock) || (options.primary && this.fidelity.primarySwitchBumpsClock);
    const added = store.addEmailAddress(userId, emailAddress, { verified: options.verified, bumpClock });
    if (!added) return null;
    if (options.primary) store.setPrimaryEmailAddress(added.address.id, { bumpClock });
    this.announce(store, "user.updated", added.user);
    return added;
  }

  /** `PATCH /v1/email_addresses/:id`: verify and/or make primary, one `user.updated`; each moves the clock as its switch says. */
  updateEmailAddress(emailAddressId: string, patch: { verified?: boolean; primary?: boolean }, store = this.users) {
    const found = store.findByEmailAddressId(emailAddressId);
    if (!found) return null;
    if (patch.verified) store.verifyEmailAddress(emailAddressId, { bumpClock: this.fidelity.verifyBumpsClock });
    if (patch.primary) store.setPrimaryEmailAddress(emailAddressId, { bumpClock: this.fidelity.primarySwitchBumpsClock });
    if (patch.verified || patch.primary) this.announce(store, "user.updated", found.user);
    return found;
  }

  /** Deleting an address moves the clock (recorded). */
  deleteEmailAddress(emailAddressId: string, store = this.users) {
    const deleted = store.deleteEmailAddress(emailAddressId);
    if (deleted) this.announce(store, "user.updated", deleted.user);
    return deleted;
  }

  /** `PUT /v1/users/:id/email_address`: every address replaced by one primary address, one change, one `user.updated`. */
  replaceEmailAddresses(userId: string, emailAddress: string, status: "verified" | "reserved" | "unverified", store = this.users) {
    const replaced = store.replaceEmailAddresses(userId, emailAddress, status);
    if (replaced) this.announce(store, "user.updated", replaced.user);
    return replaced;
  }

  /**
   * A primary email change the way a user makes one in Clerk's components: add the new address
   * (unverified), verify it, make it primary, each a separate request (`pauseMs` of real time
   * apart: the user types a code between add and verify) with its own `user.updated`. Clerk
   * keeps the old address; `deleteOld` deletes it as a fourth step. Adding does not move the
   * user's clock; verifying and the switch move it as `fidelity` says. An address the user
   * already has skips the steps it does not need.
   */
  async changePrimaryEmail(userId: string, emailAddress: string, options: { pauseMs?: number; deleteOld?: boolean } = {}) {
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
      const added = this.users.addEmailAddress(userId, emailAddress, { verified: false, bumpClock: false });
      step(added?.user);
      address = added!.address;
      await sleep(pauseMs);
    }
    if (!address.verified) {
      step(this.users.verifyEmailAddress(address.id, { bumpClock: this.fidelity.verifyBumpsClock })?.user);
      await sleep(pauseMs);
    }
    step(this.users.setPrimaryEmailAddress(address.id, { bumpClock: this.fidelity.primarySwitchBumpsClock })?.user);
    if (options.deleteOld && oldPrimaryId && this.users.findByEmailAddressId(oldPrimaryId)) {
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
    const user = this.users.get(userId);
    if (user?.banned) throw new HttpError(403, "user_banned", "This account is banned");
    if (user?.deprovisioned) throw new HttpError(403, "user_deactivated", "This account has been deactivated");
    if (user?.isLocked(Date.now())) throw new HttpError(403, "user_locked", "This account is locked");
    this.users.recordSignIn(userId);
    const signedIn = this.sessions.signIn(client, userId);
    const token = this.mintToken(signedIn.session);
    return { ...signedIn, token, cookies: this.authCookies(signedIn.client, token) };
  }

  mintToken(session: EmulatorSession) {
    return mintSessionToken(this.identity, { userId: session.userId, sessionId: session.id, authorizedParty: this.appUrl, signedInAtMs: session.createdAtMs });
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

type Metadata = Record<string, unknown>;

export type MetadataPatch = { publicMetadata?: Metadata; privateMetadata?: Metadata; unsafeMetadata?: Metadata };

function isPlainObject(value: unknown): value is Metadata {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Clerk's metadata merge: nested objects merge too, and a null removes its key at any level. */
export function deepMerge(base: Metadata, patch: Metadata): Metadata {
  const merged: Metadata = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (isPlainObject(value) && isPlainObject(merged[key])) merged[key] = deepMerge(merged[key], value);
    else merged[key] = value;
  }
  return merged;
}
