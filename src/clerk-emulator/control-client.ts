import type { BapiEndpoint, BapiFault } from "./faults";
import type { UserJson } from "./users";
import type { Delivery, WebhookSwitches } from "./webhooks";

/**
 * A typed client of the emulator's control API (`/__control/…`), for tests and scripts.
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

  users() {
    return this.call<UserJson[]>("GET", "/users");
  }

  /** Emits `user.created`. */
  createUser(input: { email: string; firstName?: string; lastName?: string; username?: string; id?: string }) {
    return this.call<UserJson>("POST", "/users", input);
  }

  /** Emits `user.updated`; `updated_at` moves forward. */
  updateUser(id: string, patch: { email?: string; firstName?: string | null; lastName?: string | null; username?: string | null }) {
    return this.call<UserJson>("PATCH", `/users/${encodeURIComponent(id)}`, patch);
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

  replay(deliveryId: string) {
    return this.call<Delivery>("POST", `/webhooks/deliveries/${encodeURIComponent(deliveryId)}/replay`);
  }

  /** A session for `userId` without the sign-in page: its token and the cookies the sign-in page would set. */
  createSession(userId: string) {
    return this.call<{ sessionId: string; token: string; clientId: string; cookies: { name: string; value: string }[] }>("POST", "/sessions", {
      userId,
    });
  }
}
