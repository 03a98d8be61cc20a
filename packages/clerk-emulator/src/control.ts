import { isLoopbackUrl, type ClerkEmulator } from "./emulator";
import type { BapiFault } from "./faults";
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
    const user = ctx.users.get(params.id!);
    if (!user) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  /** Emits `user.created`. Body: `{ email? | emailAddresses?, primaryEmailAddress?, phoneNumbers?, firstName?, lastName?, username?, id?, banned?, publicMetadata? }`. */
  router.on("POST", `${p}/users`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const user = ctx.createUser(userInput(body));
    sendJson(res, 201, userJson(user, ctx.origin));
  });

  /**
   * Seeds `count` users that never signed in (no webhooks, like an import). Body: `{ count, prefix? }`.
   * Answers how many there are now and how long the seeding took.
   */
  router.on("POST", `${p}/users/bulk`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const count = body.count;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > maxBulkUsers) {
      throw new HttpError(400, "form_param_value_invalid", `count must be an integer from 1 to ${maxBulkUsers}`, {}, "count");
    }
    const prefix = optionalString(body.prefix) ?? undefined;
    if (prefix !== undefined && !/^[a-z0-9-]{1,30}$/i.test(prefix)) {
      throw new HttpError(400, "form_param_value_invalid", "prefix must be 1–30 letters, digits or dashes", {}, "prefix");
    }
    const startedAtMs = performance.now();
    const created = ctx.createUsersInBulk(count, prefix);
    const durationMs = Math.round(performance.now() - startedAtMs);
    sendJson(res, 201, { created: created.length, totalCount: ctx.users.size, durationMs, firstId: created[0]?.id, lastId: created.at(-1)?.id });
  });

  /**
   * Emits `user.updated` (one per change). `email` changes the primary address the way Clerk
   * does (four steps, four webhooks, see `email-change`); `banned: true` also revokes sessions.
   */
  router.on("PATCH", `${p}/users/:id`, async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    if (!ctx.users.get(params.id!)) throw new HttpError(404, "resource_not_found", "No such user");
    const patch: UserPatch = {};
    for (const key of ["firstName", "lastName", "username"] as const) {
      if (key in body) patch[key] = optionalString(body[key]);
    }
    if (body.publicMetadata && typeof body.publicMetadata === "object") patch.publicMetadata = body.publicMetadata as Record<string, unknown>;
    if (Object.keys(patch).length > 0) ctx.updateUser(params.id!, patch);
    if (typeof body.banned === "boolean") ctx.setBanned(params.id!, body.banned);
    if ("email" in body) await ctx.changePrimaryEmail(params.id!, requireEmail(body.email));
    const user = ctx.users.get(params.id!);
    if (!user) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  /**
   * Changes the primary email the way Clerk does: add (unverified), verify, make primary, delete
   * the old address; each step its own `user.updated`. Body: `{ email, pauseMs? }`.
   * Answers the final user and the steps' deliveries, oldest first.
   */
  router.on("POST", `${p}/users/:id/email-change`, async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    const pauseMs = body.pauseMs === undefined ? undefined : Number(body.pauseMs);
    if (pauseMs !== undefined && !(Number.isInteger(pauseMs) && pauseMs >= 0 && pauseMs <= 60_000)) {
      throw new HttpError(400, "form_param_value_invalid", "pauseMs must be an integer from 0 to 60000", {}, "pauseMs");
    }
    const changed = await ctx.changePrimaryEmail(params.id!, requireEmail(body.email), { pauseMs });
    if (!changed) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, { user: userJson(changed.user, ctx.origin), deliveries: changed.deliveries });
  });

  router.on("DELETE", `${p}/users/:id`, ({ res, params, ctx }) => {
    if (!ctx.deleteUser(params.id!)) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, { id: params.id, deleted: true });
  });

  router.on("GET", `${p}/faults`, ({ res, ctx }) => sendJson(res, 200, ctx.faults.list()));

  /** Body: `{ endpoint?: "getUser" | "*" (default), latencyMs?, status?, rateLimitRetryAfterSeconds?, hang?, htmlNotFound?, remaining? }`. */
  router.on("PUT", `${p}/faults`, async ({ req, res, ctx }) => {
    const { endpoint, ...fault } = (await readFields(req)) as BapiFault & { endpoint?: string };
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
    const patch: Partial<RateLimitSettings> = {};
    if ("enabled" in body) {
      if (typeof body.enabled !== "boolean") throw new HttpError(400, "form_param_value_invalid", "enabled must be a boolean", {}, "enabled");
      patch.enabled = body.enabled;
    }
    for (const key of ["windowMs", "instanceRequests", "userUpdateRequests"] as const) {
      if (!(key in body)) continue;
      const value = body[key];
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || (key === "windowMs" && value < 1)) {
        throw new HttpError(400, "form_param_value_invalid", `${key} must be a non-negative integer`, {}, key);
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
    if (body.as !== "self" && body.as !== "other") throw new HttpError(400, "form_param_value_invalid", 'as must be "self" or "other"', {}, "as");
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
    const patch: Partial<WebhookSwitches> = {};
    for (const key of ["drop", "duplicate", "reorder"] as const) if (typeof body[key] === "boolean") patch[key] = body[key];
    if (typeof body.delayMs === "number") patch.delayMs = body.delayMs;
    if (body.url === null || (typeof body.url === "string" && isLoopbackUrl(body.url))) patch.url = body.url;
    else if (body.url !== undefined) throw new HttpError(400, "form_param_value_invalid", "url must be an http URL on localhost, or null", {}, "url");
    if (body.releaseOrder === "newest-first" || body.releaseOrder === "shuffled") patch.releaseOrder = body.releaseOrder;
    else if (body.releaseOrder !== undefined) {
      throw new HttpError(400, "form_param_value_invalid", 'releaseOrder must be "newest-first" or "shuffled"', {}, "releaseOrder");
    }
    ctx.webhooks.setSwitches(patch);
    sendJson(res, 200, ctx.webhooks.switches);
  });

  router.on("GET", `${p}/webhooks/deliveries`, ({ res, ctx }) => sendJson(res, 200, ctx.webhooks.list()));

  /** Sends any event, signed like the others, e.g. a late `user.updated` for a deleted user. */
  router.on("POST", `${p}/webhooks/events`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const type = requireString(body.type, "type");
    if (typeof body.data !== "object" || body.data === null) throw new HttpError(400, "form_param_missing", "data is required");
    sendJson(res, 201, ctx.webhooks.emit(type, body.data as Record<string, unknown>));
  });

  /** Svix's replay: the same svix-id, a fresh timestamp and signature. */
  router.on("POST", `${p}/webhooks/deliveries/:id/replay`, ({ res, params, ctx }) => {
    const copy = ctx.webhooks.replay(params.id!);
    if (!copy) throw new HttpError(404, "resource_not_found", "No such delivery");
    sendJson(res, 201, copy);
  });

  /** The same body as a new message (a new svix-id). */
  router.on("POST", `${p}/webhooks/deliveries/:id/resend`, ({ res, params, ctx }) => {
    const copy = ctx.webhooks.resend(params.id!);
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
    const userId = requireString(body.userId, "userId");
    if (!ctx.users.get(userId)) throw new HttpError(404, "resource_not_found", "No such user");
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

function userInput(body: Record<string, unknown>): UserInput {
  const emailAddresses = Array.isArray(body.emailAddresses) ? body.emailAddresses.map((e) => requireEmail(e)) : undefined;
  const phoneNumbers = Array.isArray(body.phoneNumbers) ? body.phoneNumbers.map((p) => requireString(p, "phoneNumbers")) : undefined;
  const email = body.email === undefined ? undefined : requireEmail(body.email);
  if (!email && !emailAddresses?.length && !phoneNumbers?.length) {
    throw new HttpError(400, "form_param_missing", "email (or emailAddresses, or phoneNumbers) is required", {}, "email");
  }
  return {
    id: optionalString(body.id) ?? undefined,
    email,
    emailAddresses,
    primaryEmailAddress: optionalString(body.primaryEmailAddress) ?? undefined,
    phoneNumbers,
    firstName: optionalString(body.firstName),
    lastName: optionalString(body.lastName),
    username: optionalString(body.username),
    banned: body.banned === true,
    publicMetadata: body.publicMetadata && typeof body.publicMetadata === "object" ? (body.publicMetadata as Record<string, unknown>) : undefined,
  };
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "") throw new HttpError(400, "form_param_missing", `${name} is required`, {}, name);
  return value;
}

function requireEmail(value: unknown): string {
  const email = requireString(value, "email").trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new HttpError(400, "form_param_value_invalid", "email must be an email address", {}, "email");
  return email;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
