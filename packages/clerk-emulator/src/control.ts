import { isLoopbackUrl, type ClerkEmulator } from "./emulator";
import { bapiEndpoints, type BapiFault } from "./faults";
import { parseFidelity, refuseUnknownKeys } from "./fidelity";
import { HttpError, readFields, sendJson, type Router } from "./http";
import type { RateLimitSettings } from "./rate-limits";
import { userJson, type UserInput, type UserPatch } from "./users";
import type { WebhookSwitches } from "./webhooks";

/** Where tests and scripts drive the emulator: JSON in, JSON out. See `control-client.ts`. */
export const controlPrefix = "/__control";

/** The most users one bulk call seeds. */
export const maxBulkUsers = 1_000_000;

export function registerControl(router: Router<ClerkEmulator>) {
  const p = controlPrefix;

  router.on("GET", `${p}/health`, ({ res }) => sendJson(res, 200, { ok: true }));

  router.on("POST", `${p}/reset`, ({ res, ctx }) => {
    ctx.reset();
    sendJson(res, 200, { ok: true });
  });

  /** Oldest first; `?limit=&offset=` pages (default: all). */
  router.on("GET", `${p}/users`, ({ res, url, ctx }) => {
    const limit = Number(url.searchParams.get("limit") ?? Number.MAX_SAFE_INTEGER);
    const offset = Number(url.searchParams.get("offset") ?? 0);
    const { users } = ctx.users.list({ order: { field: "created_at", descending: false }, limit, offset });
    sendJson(res, 200, users.map((u) => userJson(u, ctx.origin)));
  });

  router.on("GET", `${p}/users/:id`, ({ res, params, ctx }) => {
    sendJson(res, 200, userJson(existingUser(ctx, params.id!), ctx.origin));
  });

  /**
   * Emits `user.created`. Body, in Clerk's names: `{ email_address (one or a list, verified),
   * primary_email_address?, phone_number?, first_name?, last_name?, username?, external_id?,
   * public_metadata?, private_metadata?, unsafe_metadata?, banned?, id? }`.
   */
  router.on("POST", `${p}/users`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, userInputFields, true);
    const user = ctx.createUser(userInput(body));
    sendJson(res, 201, userJson(user, ctx.origin));
  });

  /**
   * Seeds `count` users that never signed in, like an import: distinct clocks 1 ms apart in
   * creation order, and a `user.created` each when `send_webhooks`. Body: `{ count, prefix?,
   * send_webhooks? }`. Answers how many there are now and how long the seeding took.
   */
  router.on("POST", `${p}/users/bulk`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["count", "prefix", "send_webhooks"], true);
    const count = body.count;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > maxBulkUsers) {
      throw invalidValue("count", `count must be an integer from 1 to ${maxBulkUsers}`);
    }
    const prefix = optionalString(body.prefix) ?? undefined;
    if (prefix !== undefined && !/^[a-z0-9-]{1,30}$/i.test(prefix)) throw invalidValue("prefix", "prefix must be 1–30 letters, digits or dashes");
    const sendWebhooks = optionalBoolean(body, "send_webhooks") ?? false;
    const startedAtMs = performance.now();
    const created = ctx.createUsersInBulk(count, { prefix, sendWebhooks });
    const durationMs = Math.round(performance.now() - startedAtMs);
    sendJson(res, 201, { created: created.length, totalCount: ctx.users.size, durationMs, firstId: created[0]?.id, lastId: created.at(-1)?.id });
  });

  /**
   * Emits `user.updated` for each change. Body, in Clerk's names: `{ first_name?, last_name?,
   * username?, external_id?, public_metadata?, private_metadata?, unsafe_metadata? (each
   * replaced), banned?, locked?, deprovisioned? }`. A ban or a deprovisioning revokes the
   * user's sessions; a lock keeps them. Email changes: `POST /users/:id/email-change`.
   */
  router.on("PATCH", `${p}/users/:id`, async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, userPatchFields, true);
    const id = existingUser(ctx, params.id!).id;
    const patch: UserPatch = {};
    for (const [field, key] of [
      ["first_name", "firstName"],
      ["last_name", "lastName"],
      ["username", "username"],
      ["external_id", "externalId"],
    ] as const) {
      if (field in body) patch[key] = optionalString(body[field]);
    }
    for (const [field, key] of metadataKeys) {
      if (field in body) patch[key] = requireObject(body[field], field);
    }
    if (Object.keys(patch).length > 0) ctx.updateUser(id, patch);
    const banned = optionalBoolean(body, "banned");
    if (banned !== undefined) ctx.setBanned(id, banned);
    const locked = optionalBoolean(body, "locked");
    if (locked !== undefined) ctx.setLocked(id, locked);
    const deprovisioned = optionalBoolean(body, "deprovisioned");
    if (deprovisioned !== undefined) ctx.setDeprovisioned(id, deprovisioned);
    sendJson(res, 200, userJson(existingUser(ctx, id), ctx.origin));
  });

  /**
   * Changes the primary email the way a user does in Clerk's components: add (unverified),
   * verify, make primary, each its own request and `user.updated`; Clerk keeps the old address
   * unless `delete_old` (a fourth step). Body: `{ email_address, pause_ms?, delete_old? }`.
   * Answers the final user and the steps' deliveries, oldest first.
   */
  router.on("POST", `${p}/users/:id/email-change`, async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["email_address", "pause_ms", "delete_old"], true);
    const pauseMs = body.pause_ms === undefined ? undefined : body.pause_ms;
    if (pauseMs !== undefined && !(typeof pauseMs === "number" && Number.isInteger(pauseMs) && pauseMs >= 0 && pauseMs <= 60_000)) {
      throw invalidValue("pause_ms", "pause_ms must be an integer from 0 to 60000");
    }
    const deleteOld = optionalBoolean(body, "delete_old");
    const changed = await ctx.changePrimaryEmail(existingUser(ctx, params.id!).id, requireEmail(body.email_address, "email_address"), { pauseMs, deleteOld });
    sendJson(res, 200, { user: userJson(changed!.user, ctx.origin), deliveries: changed!.deliveries });
  });

  router.on("DELETE", `${p}/users/:id`, ({ res, params, ctx }) => {
    if (!ctx.deleteUser(params.id!)) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, { id: params.id, deleted: true });
  });

  router.on("GET", `${p}/fidelity`, ({ res, ctx }) => sendJson(res, 200, ctx.fidelity));

  /** Body: any of `FidelitySettings` (`verifyBumpsClock`, `primarySwitchBumpsClock`, `startingAfterUnknownUser`, `offsetTimeoutDepth`, …). */
  router.on("PUT", `${p}/fidelity`, async ({ req, res, ctx }) => {
    ctx.fidelity = { ...ctx.fidelity, ...parseFidelity(await readFields(req)) };
    sendJson(res, 200, ctx.fidelity);
  });

  router.on("GET", `${p}/faults`, ({ res, ctx }) => sendJson(res, 200, ctx.faults.list()));

  /** Body: `{ endpoint?: "getUser" | "*" (default), latencyMs?, status?, rateLimitRetryAfterSeconds?, hang?, htmlNotFound?, remaining? }`. */
  router.on("PUT", `${p}/faults`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["endpoint", "latencyMs", "status", "rateLimitRetryAfterSeconds", "hang", "htmlNotFound", "remaining"], true);
    const { endpoint, ...fault } = body as BapiFault & { endpoint?: string };
    if (endpoint !== undefined && endpoint !== "*" && !(bapiEndpoints as readonly string[]).includes(endpoint)) {
      throw invalidValue("endpoint", `endpoint must be "*" or one of ${bapiEndpoints.join(", ")}`);
    }
    if (fault.status !== undefined && !(fault.status === 409 || (Number.isInteger(fault.status) && fault.status >= 500 && fault.status <= 599))) {
      throw invalidValue("status", "status must be 409 or a 5xx status");
    }
    ctx.faults.set(endpoint ?? "*", fault);
    sendJson(res, 200, ctx.faults.list());
  });

  router.on("DELETE", `${p}/faults`, ({ res, url, ctx }) => {
    ctx.faults.clear(url.searchParams.get("endpoint") ?? undefined);
    sendJson(res, 200, ctx.faults.list());
  });

  router.on("GET", `${p}/rate-limits`, ({ res, ctx }) => sendJson(res, 200, ctx.rateLimits.settings));

  /** Body: any of `{ enabled, windowMs, instanceRequests, userUpdateRequests }`; the windows start empty. */
  router.on("PUT", `${p}/rate-limits`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["enabled", "windowMs", "instanceRequests", "userUpdateRequests"], true);
    const patch: Partial<RateLimitSettings> = {};
    if ("enabled" in body) {
      if (typeof body.enabled !== "boolean") throw invalidValue("enabled", "enabled must be a boolean");
      patch.enabled = body.enabled;
    }
    for (const key of ["windowMs", "instanceRequests", "userUpdateRequests"] as const) {
      if (!(key in body)) continue;
      const value = body[key];
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || (key === "windowMs" && value < 1)) {
        throw invalidValue(key, `${key} must be a non-negative integer`);
      }
      patch[key] = value;
    }
    ctx.rateLimits.configure(patch);
    sendJson(res, 200, ctx.rateLimits.settings);
  });

  router.on("GET", `${p}/instance`, ({ res, ctx }) => sendJson(res, 200, instanceJson(ctx)));

  /** Body: `{ as: "self" | "other" }`: which instance the Backend API answers as (its JWKS and users). */
  router.on("PUT", `${p}/instance`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["as"], true);
    if (body.as !== "self" && body.as !== "other") throw invalidValue("as", 'as must be "self" or "other"');
    ctx.backendInstance = body.as;
    sendJson(res, 200, instanceJson(ctx));
  });

  router.on("DELETE", `${p}/counters`, ({ res, ctx }) => {
    ctx.counters.reset();
    sendJson(res, 200, {});
  });

  router.on("GET", `${p}/counters`, ({ res, ctx }) => sendJson(res, 200, ctx.counters.all()));

  router.on("GET", `${p}/webhooks`, ({ res, ctx }) => sendJson(res, 200, ctx.webhooks.switches));

  router.on("PUT", `${p}/webhooks`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["drop", "duplicate", "reorder", "delayMs", "url", "releaseOrder"], true);
    const patch: Partial<WebhookSwitches> = {};
    for (const key of ["drop", "duplicate", "reorder"] as const) if (typeof body[key] === "boolean") patch[key] = body[key];
    if (typeof body.delayMs === "number") patch.delayMs = body.delayMs;
    if (body.url === null || (typeof body.url === "string" && isLoopbackUrl(body.url))) patch.url = body.url;
    else if (body.url !== undefined) throw invalidValue("url", "url must be an http URL on localhost, or null");
    if (body.releaseOrder === "newest-first" || body.releaseOrder === "shuffled") patch.releaseOrder = body.releaseOrder;
    else if (body.releaseOrder !== undefined) {
      throw invalidValue("releaseOrder", 'releaseOrder must be "newest-first" or "shuffled"');
    }
    ctx.webhooks.setSwitches(patch);
    sendJson(res, 200, ctx.webhooks.switches);
  });

  router.on("GET", `${p}/webhooks/deliveries`, ({ res, ctx }) => sendJson(res, 200, ctx.webhooks.list()));

  /** Sends any event, signed like the others, e.g. a late `user.updated` for a deleted user. */
  router.on("POST", `${p}/webhooks/events`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["type", "data"], true);
    const type = requireString(body.type, "type");
    if (typeof body.data !== "object" || body.data === null) throw new HttpError(422, "form_param_missing", "data is required", {}, "data");
    sendJson(res, 201, ctx.webhooks.emit(type, body.data as Record<string, unknown>));
  });

  /** Svix's replay: the same svix-id, a fresh timestamp and signature. */
  router.on("POST", `${p}/webhooks/deliveries/:id/replay`, ({ res, params, ctx }) => {
    const copy = ctx.webhooks.replay(params.id!);
    if (!copy) throw new HttpError(404, "resource_not_found", "No such delivery");
    sendJson(res, 201, copy);
  });

  /** The same body as a new message (a new svix-id), as the Dashboard's "Send Example" sends one; not a Svix resend. */
  router.on("POST", `${p}/webhooks/deliveries/:id/send-as-new`, ({ res, params, ctx }) => {
    const copy = ctx.webhooks.sendAsNew(params.id!);
    if (!copy) throw new HttpError(404, "resource_not_found", "No such delivery");
    sendJson(res, 201, copy);
  });

  /** Resolves once no delivery is pending (waits for retries too). */
  router.on("POST", `${p}/webhooks/idle`, async ({ res, ctx }) => {
    await ctx.webhooks.idle();
    sendJson(res, 200, ctx.webhooks.list());
  });

  /** A signed-in session for `userId` without the sign-in page: the token and the cookies to seed. */
  router.on("POST", `${p}/sessions`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    refuseUnknownKeys(body, ["user_id"], true);
    const userId = existingUser(ctx, requireString(body.user_id, "user_id")).id;
    const { client, session, token, cookies } = ctx.signIn(null, userId);
    sendJson(res, 201, {
      sessionId: session.id,
      token,
      cookies: cookies.map(({ name, value }) => ({ name, value })),
      clientId: client.id,
    });
  });
}

function instanceJson(ctx: ClerkEmulator) {
  const other = ctx.backendInstance === "other" ? ctx.otherInstance : null;
  return {
    as: ctx.backendInstance,
    instanceId: other?.instanceId ?? ctx.identity.instanceId,
    keyId: other?.keyId ?? ctx.identity.keyId,
  };
}

const metadataKeys = [
  ["public_metadata", "publicMetadata"],
  ["private_metadata", "privateMetadata"],
  ["unsafe_metadata", "unsafeMetadata"],
] as const;

const userPatchFields = ["first_name", "last_name", "username", "external_id", ...metadataKeys.map(([field]) => field), "banned", "locked", "deprovisioned"];

const userInputFields = ["id", "email_address", "primary_email_address", "phone_number", ...userPatchFields.filter((f) => f !== "locked" && f !== "deprovisioned")];

function userInput(body: Record<string, unknown>): UserInput {
  const list = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? (value as unknown[]) : [value]);
  const emailAddresses = list(body.email_address).map((e) => requireEmail(e, "email_address"));
  const phoneNumbers = list(body.phone_number).map((p) => requireString(p, "phone_number"));
  if (emailAddresses.length === 0 && phoneNumbers.length === 0) {
    throw new HttpError(422, "form_param_missing", "email_address (or phone_number) is required", {}, "email_address");
  }
  const metadata = (field: (typeof metadataKeys)[number][0]) => (body[field] === undefined ? undefined : requireObject(body[field], field));
  return {
    id: optionalString(body.id) ?? undefined,
    emailAddresses,
    primaryEmailAddress: optionalString(body.primary_email_address) ?? undefined,
    phoneNumbers,
    firstName: optionalString(body.first_name),
    lastName: optionalString(body.last_name),
    username: optionalString(body.username),
    externalId: optionalString(body.external_id),
    banned: optionalBoolean(body, "banned") ?? false,
    publicMetadata: metadata("public_metadata"),
    privateMetadata: metadata("private_metadata"),
    unsafeMetadata: metadata("unsafe_metadata"),
  };
}

function existingUser(ctx: ClerkEmulator, id: string) {
  const user = ctx.users.get(id);
  if (!user) throw new HttpError(404, "resource_not_found", "No such user");
  return user;
}

function invalidValue(name: string, message: string) {
  return new HttpError(422, "form_param_value_invalid", message, {}, name);
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw invalidValue(name, `${name} must be true or false`);
  return value;
}

function requireObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidValue(name, `${name} must be an object`);
  return value as Record<string, unknown>;
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "") throw new HttpError(422, "form_param_missing", `${name} is required`, {}, name);
  return value;
}

function requireEmail(value: unknown, name: string): string {
  const email = requireString(value, name).trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw invalidValue(name, `${name} must be an email address`);
  return email;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
