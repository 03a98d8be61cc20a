import type { BackendInstance } from "./emulator";
import type { BapiEndpoint, BapiFault } from "./faults";
import type { FidelitySettings } from "./fidelity";
import type { RateLimitSettings } from "./rate-limits";
import type { UserJson } from "./users";
import type { Delivery, WebhookSwitches } from "./webhooks";

export type ControlUserInput = {
  /** One verified primary address. */
  email?: string;
  /** Several verified addresses, in list order; the primary is `primaryEmailAddress`, else the first. */
  emailAddresses?: string[];
  primaryEmailAddress?: string;
  /** Verified phone numbers (the first is primary): with no email, a phone-only user. */
  phoneNumbers?: string[];
  firstName?: string;
  lastName?: string;
  username?: string;
  externalId?: string;
  id?: string;
  banned?: boolean;
  publicMetadata?: Record<string, unknown>;
  privateMetadata?: Record<string, unknown>;
  unsafeMetadata?: Record<string, unknown>;
};

export type ControlUserPatch = {
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
  externalId?: string | null;
  /** Replaced whole (the Backend API's `PATCH …/metadata` merges instead). */
  publicMetadata?: Record<string, unknown>;
  privateMetadata?: Record<string, unknown>;
  unsafeMetadata?: Record<string, unknown>;
  /** A ban revokes the user's sessions. */
  banned?: boolean;
  /** A lock (for the instance's `lockoutSeconds`) refuses sign-ins and keeps sessions. */
  locked?: boolean;
  /** Deprovisioned by directory sync: sessions revoked, sign-in refused. */
  deprovisioned?: boolean;
};

const wireNames: Record<string, string> = {
  email: "email_address",
  emailAddresses: "email_address",
  primaryEmailAddress: "primary_email_address",
  phoneNumbers: "phone_number",
  firstName: "first_name",
  lastName: "last_name",
  externalId: "external_id",
  publicMetadata: "public_metadata",
  privateMetadata: "private_metadata",
  unsafeMetadata: "unsafe_metadata",
  pauseMs: "pause_ms",
  deleteOld: "delete_old",
  sendWebhooks: "send_webhooks",
  userId: "user_id",
};

/** The control API takes Clerk's field names (snake_case), as the Backend API does; this client takes @clerk/backend's camelCase. */
function toWire(input: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined).map(([key, value]) => [wireNames[key] ?? key, value]));
}

/**
 * A typed client of the emulator's control API (`/__control/…`), for tests and scripts. It takes
 * camelCase names as @clerk/backend does and sends Clerk's snake_case ones; answers are Clerk's JSON.
 *
 * @example
 * const emulator = new ClerkEmulatorControl("http://localhost:4101");
 * await emulator.reset();
 * await emulator.setFault({ endpoint: "getUser", latencyMs: 2000 });
 */
export class ClerkEmulatorControl {
  constructor(readonly origin: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.origin}/__control${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Clerk emulator ${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** Seeded users only; no sessions, faults, deliveries or calls. */
  reset() {
    return this.call<{ ok: true }>("POST", "/reset");
  }

  /** The users, oldest first. */
  users(page: { limit?: number; offset?: number } = {}) {
    const query = new URLSearchParams(Object.entries(page).map(([key, value]) => [key, String(value)]));
    return this.call<UserJson[]>("GET", `/users${query.size > 0 ? `?${query}` : ""}`);
  }

  user(id: string) {
    return this.call<UserJson>("GET", `/users/${encodeURIComponent(id)}`);
  }

  /** Emits `user.created`. */
  createUser(input: ControlUserInput) {
    return this.call<UserJson>("POST", "/users", toWire(input));
  }

  /**
   * Seeds `count` users who never signed in (an import): clocks 1 ms apart in creation order, and
   * no webhooks unless `sendWebhooks` (then one `user.created` each).
   */
  createUsersInBulk(count: number, prefix?: string, options: { sendWebhooks?: boolean } = {}) {
    return this.call<{ created: number; totalCount: number; durationMs: number; firstId: string; lastId: string }>(
      "POST",
      "/users/bulk",
      toWire({ count, prefix, ...options }),
    );
  }

  /** Emits `user.updated` for each change; `updated_at` takes the current time. */
  updateUser(id: string, patch: ControlUserPatch) {
    return this.call<UserJson>("PATCH", `/users/${encodeURIComponent(id)}`, toWire(patch));
  }

  /**
   * A primary email change as a user makes it in Clerk's components: add `email` (unverified),
   * verify it, make it primary: three changes, three `user.updated` deliveries (returned oldest
   * first), `pauseMs` apart. Clerk keeps the old address; `deleteOld` deletes it as a fourth step.
   * Which steps move `updated_at` follows the fidelity switches (`setFidelity`).
   */
  changePrimaryEmail(id: string, email: string, options: { pauseMs?: number; deleteOld?: boolean } = {}) {
    return this.call<{ user: UserJson; deliveries: Delivery[] }>("POST", `/users/${encodeURIComponent(id)}/email-change`, toWire({ email, ...options }));
  }

  /** The switches for Clerk's unknowns and list costs (see `FidelitySettings`). */
  fidelity() {
    return this.call<FidelitySettings>("GET", "/fidelity");
  }

  setFidelity(patch: Partial<FidelitySettings>) {
    return this.call<FidelitySettings>("PUT", "/fidelity", patch);
  }

  /** Emits `user.deleted` and revokes the user's sessions. */
  deleteUser(id: string) {
    return this.call<{ id: string; deleted: true }>("DELETE", `/users/${encodeURIComponent(id)}`);
  }

  setFault(fault: BapiFault & { endpoint?: BapiEndpoint | "*" }) {
    return this.call<Record<string, BapiFault>>("PUT", "/faults", fault);
  }

  clearFaults(endpoint?: BapiEndpoint | "*") {
    return this.call<Record<string, BapiFault>>("DELETE", `/faults${endpoint ? `?endpoint=${endpoint}` : ""}`);
  }

  rateLimits() {
    return this.call<RateLimitSettings>("GET", "/rate-limits");
  }

  /** Turn Clerk's Backend API limits off (`{ enabled: false }`) or change them; the windows start empty. */
  setRateLimits(patch: Partial<RateLimitSettings>) {
    return this.call<RateLimitSettings>("PUT", "/rate-limits", patch);
  }

  /** Makes the Backend API answer as another instance (its JWKS, none of this instance's users), or as itself again. */
  setInstance(as: BackendInstance) {
    return this.call<{ as: BackendInstance; instanceId: string; keyId: string }>("PUT", "/instance", { as });
  }

  /** Backend API calls per endpoint (`getUser`, …) and Frontend API calls (`fapi:…`) since the last reset. */
  counters() {
    return this.call<Partial<Record<BapiEndpoint | `fapi:${string}`, number>>>("GET", "/counters");
  }

  async count(endpoint: BapiEndpoint) {
    return (await this.counters())[endpoint] ?? 0;
  }

  resetCounters() {
    return this.call<object>("DELETE", "/counters");
  }

  setWebhooks(switches: Partial<WebhookSwitches>) {
    return this.call<WebhookSwitches>("PUT", "/webhooks", switches);
  }

  deliveries() {
    return this.call<Delivery[]>("GET", "/webhooks/deliveries");
  }

  /** Waits until no delivery is pending (retries included) and returns them all. */
  webhooksIdle() {
    return this.call<Delivery[]>("POST", "/webhooks/idle");
  }

  /** Signs and sends any event, e.g. a late `user.updated` for a deleted user. */
  sendEvent(type: string, data: Record<string, unknown>) {
    return this.call<Delivery>("POST", "/webhooks/events", { type, data });
  }

  /** Svix's replay: the same svix-id (a duplicate for an app that applied it), a fresh timestamp and signature. */
  replay(svixId: string) {
    return this.call<Delivery>("POST", `/webhooks/deliveries/${encodeURIComponent(svixId)}/replay`);
  }

  /** The same body as a new message (a new svix-id), like the Dashboard's "Send Example"; not a Svix resend. */
  sendAsNew(svixId: string) {
    return this.call<Delivery>("POST", `/webhooks/deliveries/${encodeURIComponent(svixId)}/send-as-new`);
  }

  /** A session for `userId` without the sign-in page: its token and the cookies the sign-in page would set. */
  createSession(userId: string) {
    return this.call<{ sessionId: string; token: string; clientId: string; cookies: { name: string; value: string }[] }>("POST", "/sessions", toWire({ userId }));
  }
}
