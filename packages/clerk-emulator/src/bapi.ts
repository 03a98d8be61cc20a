import type { ServerResponse } from "node:http";

import type { ClerkEmulator, MetadataPatch } from "./emulator";
import type { BapiEndpoint } from "./faults";
import { refuseUnknownKeys } from "./fidelity";
import { HttpError, readBody, readFields, sendClerkError, sendHtml, sendJson, sleep, type Handler, type Request, type Router } from "./http";
import { publicJwk } from "./jwt";
import { emailAddressJson, userJson, userOrderFields, type CursorPosition, type UserFilters, type UserOrder, type UserOrderField, type UserPatch } from "./users";

/**
 * Clerk's Backend API (`CLERK_API_URL`): the user and email address endpoints, JWKS, wrapped in
 * the secret key check, the call counters, Clerk's rate limits and the fault switches. When
 * switched to another instance it answers with that instance's key and users.
 */
export function registerBapi(router: Router<ClerkEmulator>) {
  const on = (method: string, path: string, endpoint: BapiEndpoint, handler: Handler<ClerkEmulator>) =>
    router.on(method, path, async (args) => {
      const { req, res, ctx, params } = args;
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (!bearer) return sendClerkError(res, 401, "authentication_invalid", "Unauthorized: a Bearer secret key is required");
      // The code @clerk/backend looks for when Clerk refuses a secret key (its JWKS loader maps it).
      if (bearer !== ctx.identity.secretKey) {
        return sendClerkError(res, 401, "clerk_key_invalid", "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.");
      }
      ctx.counters.increment(endpoint);
      const limits = ctx.rateLimits.settings;
      // GET /v1/jwks has no rate limit; one per-user budget covers the user and metadata updates (Clerk's system limits).
      const retryAfterSeconds = endpoint === "getJwks" ? null : ctx.rateLimits.take([
        { key: `instance:${ctx.backendInstance}`, limit: limits.instanceRequests },
        ...(userUpdateEndpoints.has(endpoint) ? [{ key: `user:${ctx.backendInstance}:${params.id}`, limit: limits.userUpdateRequests }] : []),
      ]);
      if (retryAfterSeconds !== null) {
        return sendClerkError(res, 429, "too_many_requests", "Too Many Requests", { "Retry-After": String(retryAfterSeconds) });
      }
      if (await applyFault(ctx, res, endpoint)) return;
      await handler(args);
    });

  on("GET", "/v1/jwks", "getJwks", ({ res, ctx }) => {
    const key = ctx.backendInstance === "self" ? ctx.identity : ctx.otherInstance;
    sendJson(res, 200, { keys: [publicJwk(key)] });
  });

  on("GET", "/v1/instance", "getInstance", ({ res, ctx }) => {
    const id = ctx.backendInstance === "self" ? ctx.identity.instanceId : ctx.otherInstance.instanceId;
    const environmentType = ctx.identity.secretKey.startsWith("sk_live_") ? "production" : "development";
    sendJson(res, 200, { object: "instance", id, environment_type: environmentType, allowed_origins: [ctx.appUrl], workspace_id: null });
  });

  // `/v1/users/count` before `/v1/users/:id`.
  on("GET", "/v1/users/count", "getCount", ({ res, url, ctx }) => {
    sendJson(res, 200, { object: "total_count", total_count: ctx.backendUsers().count(readFilters(url)) });
  });

  on("GET", "/v1/users", "getUserList", async ({ res, url, ctx }) => {
    // Out of 1–500, Clerk answers its default page of 10 instead of refusing (clerk/clerk-sdk-python#166).
    const requested = integerParam(url, "limit", defaultPageSize);
    const limit = requested >= 1 && requested <= 500 ? requested : defaultPageSize;
    const offset = integerParam(url, "offset", 0);
    if (offset < 0) throw invalidParam("offset", "offset must be 0 or more");
    const order = readOrder(url);
    const store = ctx.backendUsers();
    const startingAfter = url.searchParams.get("starting_after");
    let after: CursorPosition | undefined;
    if (startingAfter !== null) {
      if (order.field !== "created_at") {
        throw invalidParam("starting_after", "starting_after can only be used when ordering by created_at (order_by omitted, created_at, +created_at or -created_at)");
      }
      if (offset !== 0) throw invalidParam("starting_after", "starting_after cannot be combined with a non-zero offset");
      const position = store.cursorPosition(startingAfter);
      const mode = ctx.fidelity.startingAfterUnknownUser;
      if (!store.get(startingAfter)) {
        if (mode === "empty") return sendJson(res, 200, []);
        if (mode === "error" || !position) throw invalidParam("starting_after", "starting_after must be the id of a user of this instance");
      }
      after = position ?? undefined;
    } else if (offset > 0 && (await offsetTimedOut(ctx, res, offset))) {
      return;
    }
    const { users } = store.list({ order, limit, offset, after, filters: readFilters(url) });
    sendJson(res, 200, users.map((user) => userJson(user, ctx.origin)));
  });

  on("POST", "/v1/users", "createUser", async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const emails = stringList(body.email_address);
    const phones = stringList(body.phone_number);
    if (emails.some((email) => !email.includes("@"))) throw invalidParam("email_address", "email_address must be a valid email address");
    const user = ctx.createUser(
      {
        emailAddresses: emails,
        phoneNumbers: phones,
        firstName: stringOrNull(body.first_name),
        lastName: stringOrNull(body.last_name),
        username: stringOrNull(body.username),
        externalId: stringOrNull(body.external_id),
        publicMetadata: objectOrUndefined(body.public_metadata),
        privateMetadata: objectOrUndefined(body.private_metadata),
        unsafeMetadata: objectOrUndefined(body.unsafe_metadata),
      },
      ctx.backendUsers(),
    );
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  on("GET", "/v1/users/:id", "getUser", ({ res, params, ctx }) => {
    const user = ctx.backendUsers().get(params.id!);
    if (!user) return notFound(res);
    sendJson(res, 200, userJson(user, ctx.origin));
  });

  for (const [method, endpoint, mode] of [
    ["PATCH", "updateUserMetadata", "merge"],
    ["PUT", "replaceUserMetadata", "replace"],
  ] as const) {
    on(method, "/v1/users/:id/metadata", endpoint, async ({ req, res, params, ctx }) => {
      const store = ctx.backendUsers();
      if (!store.get(params.id!)) return notFound(res);
      const body = await readFields(req);
      refuseUnknownKeys(body, metadataFields);
      const metadata: MetadataPatch = {};
      for (const [field, key] of [
        ["public_metadata", "publicMetadata"],
        ["private_metadata", "privateMetadata"],
        ["unsafe_metadata", "unsafeMetadata"],
      ] as const) {
        if (body[field] === undefined) continue;
        const value = objectOrUndefined(body[field]);
        if (!value) throw invalidParam(field, `${field} must be an object`);
        metadata[key] = value;
      }
      sendJson(res, 200, userJson(ctx.updateMetadata(params.id!, metadata, mode, store)!, ctx.origin));
    });
  }

  on("PATCH", "/v1/users/:id", "updateUser", async ({ req, res, params, ctx }) => {
    const store = ctx.backendUsers();
    const current = store.get(params.id!);
    if (!current) return notFound(res);
    const body = await readFields(req);
    // Since 2026-05-12 the body schema has `additionalProperties: false`: metadata goes to …/metadata.
    refuseUnknownKeys(body, updateUserFields);
    const primaryId = body.primary_email_address_id;
    if (primaryId !== undefined && primaryId !== null) {
      const owned = typeof primaryId === "string" ? store.findByEmailAddressId(primaryId) : null;
      if (owned?.user !== current) throw invalidParam("primary_email_address_id", "primary_email_address_id must be an email address of this user");
    }
    const patch: UserPatch = {};
    // Clerk documents null and "" as clearing `username`; for the names it documents neither (see the contract suite).
    if ("first_name" in body) patch.firstName = stringOrNull(body.first_name);
    if ("last_name" in body) patch.lastName = stringOrNull(body.last_name);
    if ("username" in body) patch.username = stringOrNull(body.username);
    if ("external_id" in body) patch.externalId = stringOrNull(body.external_id);
    // Usernames are unique per instance, compared without case, as in Clerk.
    const holders = patch.username ? store.list({ filters: { usernames: [patch.username] } }).users : [];
    if (holders.some((holder) => holder.id !== current.id)) {
      return sendClerkError(res, 422, "form_identifier_exists", "That username is taken. Please try another.", {}, "username");
    }
    // Verified-only for the primary address is checked by the store.
    const user = ctx.updateUser(current.id, patch, store, typeof primaryId === "string" ? primaryId : undefined);
    sendJson(res, 200, userJson(user!, ctx.origin));
  });

  on("PUT", "/v1/users/:id/email_address", "replaceUserEmailAddress", async ({ req, res, params, ctx }) => {
    const store = ctx.backendUsers();
    if (!store.get(params.id!)) return notFound(res);
    const body = await readFields(req);
    refuseUnknownKeys(body, ["email_address", "identification_status", "notify_primary_email_address_changed"]);
    const email = typeof body.email_address === "string" ? body.email_address.trim() : "";
    if (!email.includes("@")) throw invalidParam("email_address", "email_address must be a valid email address");
    const status = body.identification_status ?? "verified";
    if (status !== "verified" && status !== "reserved" && status !== "unverified") {
      throw invalidParam("identification_status", "identification_status must be verified, reserved or unverified");
    }
    const replaced = ctx.replaceEmailAddresses(params.id!, email, status, store);
    sendJson(res, 200, emailAddressJson(replaced!.address));
  });

  on("DELETE", "/v1/users/:id", "deleteUser", ({ res, params, ctx }) => {
    if (!ctx.deleteUser(params.id!, ctx.backendUsers())) return notFound(res);
    sendJson(res, 200, { object: "user", id: params.id, deleted: true });
  });

  for (const [action, endpoint] of [
    ["ban", "banUser"],
    ["unban", "unbanUser"],
    ["lock", "lockUser"],
    ["unlock", "unlockUser"],
  ] as const) {
    on("POST", `/v1/users/:id/${action}`, endpoint, ({ res, params, ctx }) => {
      const store = ctx.backendUsers();
      const user = action === "ban" || action === "unban" ? ctx.setBanned(params.id!, action === "ban", store) : ctx.setLocked(params.id!, action === "lock", store);
      if (!user) return notFound(res);
      sendJson(res, 200, userJson(user, ctx.origin));
    });
  }

  on("POST", "/v1/users/:id/profile_image", "updateUserProfileImage", async ({ req, res, params, ctx }) => {
    const store = ctx.backendUsers();
    if (!store.get(params.id!)) return notFound(res);
    const file = parseMultipartFile(req, await readBody(req));
    if (!file) return sendClerkError(res, 422, "form_param_missing", "A multipart `file` part is required", {}, "file");
    const user = ctx.setProfileImage(params.id!, file, store);
    sendJson(res, 200, userJson(user!, ctx.origin));
  });

  on("GET", "/v1/email_addresses/:id", "getEmailAddress", ({ res, params, ctx }) => {
    const found = ctx.backendUsers().findByEmailAddressId(params.id!);
    if (!found) return notFound(res);
    sendJson(res, 200, emailAddressJson(found.address));
  });

  on("POST", "/v1/email_addresses", "createEmailAddress", async ({ req, res, ctx }) => {
    const body = await readFields(req);
    const userId = typeof body.user_id === "string" ? body.user_id : "";
    const email = typeof body.email_address === "string" ? body.email_address.trim() : "";
    if (!userId) throw new HttpError(422, "form_param_missing", "user_id is required", {}, "user_id");
    if (!email.includes("@")) throw invalidParam("email_address", "email_address must be a valid email address");
    const added = ctx.createEmailAddress(userId, email, { verified: body.verified === true, primary: body.primary === true }, ctx.backendUsers());
    if (!added) return notFound(res);
    sendJson(res, 200, emailAddressJson(added.address));
  });

  on("PATCH", "/v1/email_addresses/:id", "updateEmailAddress", async ({ req, res, params, ctx }) => {
    const body = await readFields(req);
    const found = ctx.updateEmailAddress(params.id!, { verified: body.verified === true, primary: body.primary === true }, ctx.backendUsers());
    if (!found) return notFound(res);
    sendJson(res, 200, emailAddressJson(found.address));
  });

  on("DELETE", "/v1/email_addresses/:id", "deleteEmailAddress", ({ res, params, ctx }) => {
    if (!ctx.deleteEmailAddress(params.id!, ctx.backendUsers())) return notFound(res);
    sendJson(res, 200, { object: "email_address", id: params.id, deleted: true });
  });
}

/** Clerk's default page size, also what it answers for a `limit` out of 1–500. */
const defaultPageSize = 10;

const userUpdateEndpoints = new Set<BapiEndpoint>(["updateUser", "updateUserMetadata", "replaceUserMetadata"]);

const metadataFields = ["public_metadata", "private_metadata", "unsafe_metadata"] as const;

/** `PATCH /v1/users/{id}`'s body properties (2026-05-12): anything else, metadata included, is a 422. */
const updateUserFields = [
  "external_id",
  "first_name",
  "last_name",
  "locale",
  "primary_email_address_id",
  "notify_primary_email_address_changed",
  "primary_phone_number_id",
  "primary_web3_wallet_id",
  "username",
  "profile_image_id",
  "password",
  "password_digest",
  "password_hasher",
  "skip_password_checks",
  "sign_out_of_other_sessions",
  "totp_secret",
  "backup_codes",
  "delete_self_enabled",
  "create_organization_enabled",
  "legal_accepted_at",
  "skip_legal_checks",
  "create_organizations_limit",
  "created_at",
  "bypass_client_trust",
] as const;

/**
 * Clerk's offset cost: a page skipping `offset` users waits `offsetLatencyMsPer1000` per 1,000,
 * and from `offsetTimeoutDepth` on it times out (504 `request_timeout` after
 * `offsetTimeoutHoldMs`). True when it answered.
 */
async function offsetTimedOut(ctx: ClerkEmulator, res: ServerResponse, offset: number): Promise<boolean> {
  const { offsetTimeoutDepth, offsetLatencyMsPer1000, offsetTimeoutHoldMs } = ctx.fidelity;
  if (offsetTimeoutDepth !== null && offset >= offsetTimeoutDepth) {
    await sleep(offsetTimeoutHoldMs);
    sendClerkError(
      res,
      504,
      "request_timeout",
      "The request timed out",
      {},
      "offset",
      `Listing users with an offset of ${offset} timed out. Paginate with starting_after instead of offset.`,
    );
    return true;
  }
  const latencyMs = Math.floor((offset / 1000) * offsetLatencyMsPer1000);
  if (latencyMs > 0) await sleep(latencyMs);
  return false;
}

function notFound(res: ServerResponse) {
  sendClerkError(res, 404, "resource_not_found", "Resource not found");
}

function invalidParam(name: string, message: string) {
  return new HttpError(422, "form_param_value_invalid", message, {}, name);
}

function integerParam(url: URL, name: string, fallback: number) {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw invalidParam(name, `${name} must be an integer`);
  return value;
}

/** `order_by`: one of Clerk's fields, optionally prefixed with `+` or `-`; default `-created_at`. */
function readOrder(url: URL): UserOrder {
  const raw = url.searchParams.get("order_by") ?? "-created_at";
  const descending = raw.startsWith("-");
  const field = raw.replace(/^[+-]/, "");
  if (!(userOrderFields as readonly string[]).includes(field)) {
    throw invalidParam("order_by", `order_by must be one of ${userOrderFields.join(", ")}, optionally prefixed with + or -`);
  }
  return { field: field as UserOrderField, descending };
}

/**
 * Repeatable filters (`user_id=a&user_id=b`, commas accepted too), up to 100 values each. A
 * `user_id` prefixed with `-` excludes that user, with `+` (or nothing) includes it.
 */
function readFilters(url: URL): UserFilters {
  const list = (name: string) => {
    const values = url.searchParams.getAll(name).flatMap((v) => v.split(",")).filter((v) => v !== "");
    if (values.length > 100) throw invalidParam(name, `${name} accepts up to 100 values`);
    return values.length > 0 ? values : undefined;
  };
  const ids = list("user_id") ?? [];
  const included = ids.filter((id) => !id.startsWith("-")).map((id) => id.replace(/^\+/, ""));
  const excluded = ids.filter((id) => id.startsWith("-")).map((id) => id.slice(1));
  const timestamp = (name: string) => {
    const raw = url.searchParams.get(name);
    return raw === null || raw === "" ? undefined : integerParam(url, name, 0);
  };
  return {
    userIds: included.length > 0 ? included : undefined,
    excludedUserIds: excluded.length > 0 ? excluded : undefined,
    createdAfterMs: timestamp("created_at_after"),
    createdBeforeMs: timestamp("created_at_before"),
    emailAddresses: list("email_address"),
    phoneNumbers: list("phone_number"),
    usernames: list("username"),
    externalIds: list("external_id"),
    query: stringOrNull(url.searchParams.get("query")) ?? undefined,
  };
}

function stringOrNull(value: unknown) {
  return typeof value === "string" && value !== "" ? value : null;
}

function stringList(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values.filter((v): v is string => typeof v === "string" && v.trim() !== "").map((v) => v.trim());
}

function objectOrUndefined(value: unknown) {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** True when the fault answered (or swallowed) the request. */
async function applyFault(ctx: ClerkEmulator, res: ServerResponse, endpoint: string): Promise<boolean> {
  const fault = ctx.faults.take(endpoint);
  if (!fault) return false;
  if (fault.latencyMs) await sleep(fault.latencyMs);
  if (fault.htmlNotFound) {
    sendHtml(res, 404, "<!doctype html><html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>");
    return true;
  }
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
    // 409 is in the spec for PATCH /v1/users/{id} and the email address endpoints; its code is not documented.
    sendClerkError(res, fault.status, fault.status === 409 ? "conflict" : "internal_clerk_error", `Emulated failure (${fault.status})`);
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
