import type { ServerResponse } from "node:http";

import type { ClerkEmulator } from "./emulator";
import type { BapiEndpoint } from "./faults";
import { HttpError, readBody, readFields, sendClerkError, sendJson, sleep, type Handler, type Request, type Router } from "./http";
import { publicJwk } from "./jwt";
import { userJson, type UserPatch } from "./users";

/**
 * Clerk's Backend API (`CLERK_API_URL`): the user endpoints `clerkClient()` calls, wrapped in
 * the Bearer check, the call counters and the fault switches.
 */
export function registerBapi(router: Router<ClerkEmulator>) {
  const on = (method: string, path: string, endpoint: BapiEndpoint, handler: Handler<ClerkEmulator>) =>
    router.on(method, path, async (args) => {
      const { req, res, ctx } = args;
      if (!/^Bearer sk_\S+$/.test(req.headers.authorization ?? "")) {
        return sendClerkError(res, 401, "authentication_invalid", "Unauthorized: a Bearer sk_… secret key is required");
      }
      ctx.counters.increment(endpoint);
      if (await applyFault(ctx, res, endpoint)) return;
      await handler(args);
    });

  // `/v1/users/count` before `/v1/users/:id`.
  on("GET", "/v1/jwks", "getJwks", ({ res, ctx }) => sendJson(res, 200, { keys: [publicJwk(ctx.identity)] }));

  on("GET", "/v1/users/count", "getCount", ({ res, url, ctx }) =>
    sendJson(res, 200, { object: "total_count", total_count: filterUsers(ctx, url).length }),
  );

  on("GET", "/v1/users", "getUserList", ({ res, url, ctx }) => {
    const limit = Number(url.searchParams.get("limit") ?? 10);
    const offset = Number(url.searchParams.get("offset") ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500 || !Number.isInteger(offset) || offset < 0) {
      return sendClerkError(res, 422, "form_param_value_invalid", "limit must be 1..500 and offset ≥ 0");
    }
    const page = filterUsers(ctx, url).slice(offset, offset + limit);
    sendJson(res, 200, page.map((user) => userJson(user, ctx.origin)));
  });

  on("POST", "/v1/users", "createUser", async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const emails: unknown = body.email_address;
    const email: unknown = Array.isArray(emails) ? emails[0] : emails;
    if (typeof email !== "string" || !email.includes("@")) {
      return sendClerkError(res, 422, "form_param_missing", "email_address is required");
    }
    const user = ctx.createUser({
      email,
      firstName: stringOrNull(body.first_name),
      lastName: stringOrNull(body.last_name),
      username: stringOrNull(body.username),
    });
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  on("GET", "/v1/users/:id", "getUser", ({ res, params, ctx }) => {
    const user = ctx.users.get(params.id!);
    if (!user) return notFound(res);
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  on("PATCH", "/v1/users/:id/metadata", "updateUserMetadata", async ({ req, res, params, ctx }) => {
    const current = ctx.users.get(params.id!);
    if (!current) return notFound(res);
    const body = await readFields(req);
    const merge = (base: Record<string, unknown>, patch: unknown) =>
      patch && typeof patch === "object" ? removeNulls({ ...base, ...(patch as Record<string, unknown>) }) : undefined;
    const user = ctx.updateUser(current.id, {
      publicMetadata: merge(current.publicMetadata, body.public_metadata),
      privateMetadata: merge(current.privateMetadata, body.private_metadata),
      unsafeMetadata: merge(current.unsafeMetadata, body.unsafe_metadata),
    });
    sendJson(res, 200, userJson(user!, ctx.origin));
  });

  on("PATCH", "/v1/users/:id", "updateUser", async ({ req, res, params, ctx }) => {
    if (!ctx.users.get(params.id!)) return notFound(res);
    const body = await readFields(req);
    const patch: UserPatch = {};
    if ("first_name" in body) patch.firstName = stringOrNull(body.first_name);
    if ("last_name" in body) patch.lastName = stringOrNull(body.last_name);
    if ("username" in body) patch.username = stringOrNull(body.username);
    // Usernames are unique per instance, compared without case, as in Clerk.
    const taken = patch.username && ctx.users.list().some((u) => u.id !== params.id && u.username?.toLowerCase() === patch.username!.toLowerCase());
    if (taken) return sendClerkError(res, 422, "form_identifier_exists", "That username is taken. Please try another.", {}, "username");
    for (const [field, key] of [
      ["public_metadata", "publicMetadata"],
      ["private_metadata", "privateMetadata"],
      ["unsafe_metadata", "unsafeMetadata"],
    ] as const) {
      if (body[field] && typeof body[field] === "object") patch[key] = body[field] as Record<string, unknown>;
    }
    const user = ctx.updateUser(params.id!, patch);
    sendJson(res, 200, userJson(user!, ctx.origin));
  });

  on("DELETE", "/v1/users/:id", "deleteUser", ({ res, params, ctx }) => {
    if (!ctx.deleteUser(params.id!)) return notFound(res);
    sendJson(res, 200, { object: "user", id: params.id, deleted: true });
  });

  on("POST", "/v1/users/:id/profile_image", "updateUserProfileImage", async ({ req, res, params, ctx }) => {
    if (!ctx.users.get(params.id!)) return notFound(res);
    const file = parseMultipartFile(req, await readBody(req));
    if (!file) return sendClerkError(res, 422, "form_param_missing", "A multipart `file` part is required");
    const user = ctx.setProfileImage(params.id!, file);
    sendJson(res, 200, userJson(user!, ctx.origin));
  });
}

function notFound(res: ServerResponse) {
  sendClerkError(res, 404, "resource_not_found", "Resource not found");
}

function stringOrNull(value: unknown) {
  return typeof value === "string" && value !== "" ? value : null;
}

function removeNulls(record: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null));
}

/** `user_id`, `email_address` (repeatable) and `query` filters, then `order_by` (±created_at). */
function filterUsers(ctx: ClerkEmulator, url: URL) {
  const order = url.searchParams.get("order_by") === "+created_at" || url.searchParams.get("order_by") === "created_at" ? "created_at" : "-created_at";
  const ids = url.searchParams.getAll("user_id").flatMap((v) => v.split(","));
  const emails = url.searchParams.getAll("email_address").flatMap((v) => v.split(",")).map((e) => e.toLowerCase());
  const query = url.searchParams.get("query")?.toLowerCase();
  return ctx.users.list(order).filter(
    (user) =>
      (ids.length === 0 || ids.includes(user.id)) &&
      (emails.length === 0 || emails.includes(user.email.toLowerCase())) &&
      (!query || [user.email, user.firstName, user.lastName, user.username, user.id].some((v) => v?.toLowerCase().includes(query))),
  );
}

/** True when the fault answered (or swallowed) the request. */
async function applyFault(ctx: ClerkEmulator, res: ServerResponse, endpoint: string): Promise<boolean> {
  const fault = ctx.faults.take(endpoint);
  if (!fault) return false;
  if (fault.latencyMs) await sleep(fault.latencyMs);
  if (fault.hang) {
    await ctx.faults.hang();
    sendClerkError(res, 503, "service_unavailable", "Released from a hang");
    return true;
  }
  if (fault.rateLimitRetryAfterSeconds !== undefined) {
    sendClerkError(res, 429, "too_many_requests", "Too many requests", { "Retry-After": String(fault.rateLimitRetryAfterSeconds) });
    return true;
  }
  if (fault.status) {
    sendClerkError(res, fault.status, "internal_clerk_error", `Emulated failure (${fault.status})`);
    return true;
  }
  return false;
}

/** The first part with a filename in a multipart/form-data body. */
function parseMultipartFile(req: Request, body: Buffer): { contentType: string; data: Buffer } | null {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers["content-type"] ?? "");
  if (!boundary) throw new HttpError(400, "form_param_format_invalid", "Expected multipart/form-data");
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf("\r\n\r\n");
    const headers = part.subarray(0, headerEnd).toString("utf8");
    if (headerEnd >= 0 && /filename=/i.test(headers)) {
      const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? "application/octet-stream";
      return { contentType, data: Buffer.from(part.subarray(headerEnd + 4)) };
    }
    start = next;
  }
  return null;
}
