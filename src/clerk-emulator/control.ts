import type { ClerkEmulator } from "./emulator";
import type { BapiFault } from "./faults";
import { HttpError, readFields, sendJson, type Router } from "./http";
import type { WebhookSwitches } from "./webhooks";
import { userJson, type UserPatch } from "./users";

/** Where tests and scripts drive the emulator: JSON in, JSON out. See `control-client.ts`. */
export const controlPrefix = "/__control";

export function registerControl(router: Router<ClerkEmulator>) {
  const p = controlPrefix;

  router.on("GET", `${p}/health`, ({ res }) => sendJson(res, 200, { ok: true }));

  router.on("POST", `${p}/reset`, ({ res, ctx }) => {
    ctx.reset();
    sendJson(res, 200, { ok: true });
  });

  router.on("GET", `${p}/users`, ({ res, ctx }) => sendJson(res, 200, ctx.users.list().map((u) => userJson(u, ctx.origin))));

  router.on("POST", `${p}/users`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const email = requireString(body.email, "email");
    const user = ctx.createUser({
      email,
      firstName: optionalString(body.firstName),
      lastName: optionalString(body.lastName),
      username: optionalString(body.username),
      id: optionalString(body.id) ?? undefined,
    });
    sendJson(res, 201, userJson(user, ctx.origin));
  });

  router.on("PATCH", `${p}/users/:id`, async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    const patch: UserPatch = {};
    if ("email" in body) patch.email = requireString(body.email, "email");
    for (const key of ["firstName", "lastName", "username"] as const) {
      if (key in body) patch[key] = optionalString(body[key]);
    }
    const user = ctx.updateUser(params.id!, patch);
    if (!user) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  router.on("DELETE", `${p}/users/:id`, ({ res, params, ctx }) => {
    if (!ctx.deleteUser(params.id!)) throw new HttpError(404, "resource_not_found", "No such user");
    sendJson(res, 200, { id: params.id, deleted: true });
  });

  router.on("GET", `${p}/faults`, ({ res, ctx }) => sendJson(res, 200, ctx.faults.list()));

  /** Body: `{ endpoint?: "getUser" | "*" (default), latencyMs?, status?, rateLimitRetryAfterSeconds?, hang?, remaining? }`. */
  router.on("PUT", `${p}/faults`, async ({ req, res, ctx }) => {
    const { endpoint, ...fault } = (await readFields(req)) as BapiFault & { endpoint?: string };
    ctx.faults.set(endpoint ?? "*", fault);
    sendJson(res, 200, ctx.faults.list());
  });

  router.on("DELETE", `${p}/faults`, ({ res, url, ctx }) => {
    ctx.faults.clear(url.searchParams.get("endpoint") ?? undefined);
    sendJson(res, 200, ctx.faults.list());
  });

  router.on("GET", `${p}/counters`, ({ res, ctx }) => sendJson(res, 200, ctx.counters.all()));

  router.on("DELETE", `${p}/counters`, ({ res, ctx }) => {
    ctx.counters.reset();
    sendJson(res, 200, {});
  });

  router.on("GET", `${p}/webhooks`, ({ res, ctx }) => sendJson(res, 200, ctx.webhooks.switches));

  router.on("PUT", `${p}/webhooks`, async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const patch: Partial<WebhookSwitches> = {};
    for (const key of ["drop", "duplicate", "reorder"] as const) if (typeof body[key] === "boolean") patch[key] = body[key];
    if (typeof body.delayMs === "number") patch.delayMs = body.delayMs;
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

  router.on("POST", `${p}/webhooks/deliveries/:id/replay`, ({ res, params, ctx }) => {
    const copy = ctx.webhooks.replay(params.id!);
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

function requireString(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "") throw new HttpError(400, "form_param_missing", `${name} is required`);
  return value;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}
