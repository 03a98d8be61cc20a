/**
 * The Backend API calls user sync makes (`GET /v1/users/{id}`, `GET /v1/jwks`, `GET
 * /v1/users/count` for the health view, and for profile edits `PATCH /v1/users/{id}` and `POST
 * /v1/users/{id}/profile_image`), each bounded by a timeout whose `AbortSignal` reaches the
 * request, so a hanging Clerk leaves no open request behind. `@clerk/backend`'s client cannot do
 * that: it binds `fetch` when it loads
 * and passes no signal. Requests carry the headers its client sends (Bearer secret key,
 * `Clerk-API-Version`); answers are classified here:
 *
 * - 404 is "user deleted" only with Clerk's own JSON error `resource_not_found`; any other 404
 *   (an HTML page from a proxy, a wrong `CLERK_API_URL` path) is `CLERK_UNAVAILABLE`.
 * - 401/403 is `CLERK_KEY_REJECTED`, 429 `CLERK_RATE_LIMITED` (with `Retry-After`), other
 *   failures `CLERK_UNAVAILABLE`, a body that is not Clerk's `CLERK_MALFORMED`.
 * - A write Clerk refuses (400/404/422 with Clerk's `errors[]`: a taken username, an invalid
 *   value, a user that is gone) is a `ClerkRefusedError` carrying Clerk's codes, fields and messages.
 *
 * Errors name statuses and Clerk error codes, never the key, a body or a user's data.
 */
import { z } from "zod";

import { UserSyncError } from "../errors";

export type ClerkBackendApiOptions = {
  /**
   * The instance's secret key (`CLERK_SECRET_KEY`), sent as `Authorization: Bearer`. Read at each
   * call, not before: unset, every call fails with `CLERK_NOT_CONFIGURED` (a build never calls).
   */
  secretKey?: string;
  /** The Backend API's base URL (`CLERK_API_URL`); default `https://api.clerk.com`. */
  apiUrl?: string;
};

/** What @clerk/backend 3.20.1 sends: the API version its resource parsers are written for. */
const clerkApiVersion = "2026-05-12";
const defaultApiUrl = "https://api.clerk.com";

export const userNotFound = Symbol("clerk-user-not-found");

const clerkErrorBody = z.object({ errors: z.array(z.object({ code: z.string() }).loose()) }).loose();
const clerkRefusalBody = z
  .object({
    errors: z
      .array(
        z
          .object({
            code: z.string(),
            message: z.string().optional(),
            long_message: z.string().optional(),
            meta: z.object({ param_name: z.string().optional() }).loose().nullish(),
          })
          .loose(),
      )
      .min(1),
  })
  .loose();

/** One of Clerk's reasons for refusing a write. */
export type ClerkRefusal = { code: string; message: string; paramName: string | null };

/**
 * Clerk understood a write and refused it (400/404/422 with its `errors[]`): nothing changed in
 * Clerk. `refusals` carry Clerk's messages for the user who made the change; this error's own
 * message names only the status and codes.
 */
export class ClerkRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly refusals: ClerkRefusal[],
  ) {
    super(`Clerk refused the change (${status}, ${refusals.map((r) => r.code.slice(0, 60)).join(", ")})`);
    this.name = "ClerkRefusedError";
  }
}

/** The fields `PATCH /v1/users/{id}` takes from a profile edit; null clears a value (sent as `""`). */
export type ClerkUserUpdate = { firstName?: string | null; lastName?: string | null; username?: string | null };
const countBody = z.object({ total_count: z.number().int().nonnegative() }).loose();
const jwksBody = z.object({ keys: z.array(z.object({ kid: z.string().optional() }).loose()) }).loose();

type JsonAnswer = { status: number; json: unknown; retryAfterSeconds: number | null };

/** One Backend API request within `timeoutMs`: its status, JSON body (undefined when not JSON) and `Retry-After`. */
async function request(
  clerk: ClerkBackendApiOptions,
  timeoutMs: number,
  method: string,
  path: string,
  body?: { json: unknown } | { form: FormData },
): Promise<JsonAnswer> {
  const secretKey = clerk.secretKey;
  if (!secretKey) throw new UserSyncError("CLERK_NOT_CONFIGURED", "CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)");
  const baseUrl = (clerk.apiUrl ?? defaultApiUrl).replace(/\/+$/, "");
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/v1${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${secretKey}`,
        "Clerk-API-Version": clerkApiVersion,
        Accept: "application/json",
        // A FormData body sets its own multipart content type (with the boundary).
        ...(body && "json" in body ? { "Content-Type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : "json" in body ? JSON.stringify(body.json) : body.form,
      signal,
      cache: "no-store",
    });
  } catch (error) {
    throw requestFailure(error, signal, timeoutMs);
  }
  const isJson = (response.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json");
  let json: unknown = undefined;
  try {
    if (isJson) {
      json = JSON.parse(await response.text());
    } else {
      // Not read: releases the connection. Not awaited: a cancelled stream need not settle.
      response.body?.cancel().catch(() => undefined);
    }
  } catch (error) {
    if (signal.aborted) throw requestFailure(error, signal, timeoutMs);
    if (response.ok) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a body that is not JSON");
  }
  const retryAfter = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
  return { status: response.status, json, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null };
}

/** A failed answer as the error callers get. */
function failure(answer: JsonAnswer): UserSyncError {
  const codes = clerkErrorCodes(answer.json);
  if (answer.status === 429) {
    return new UserSyncError("CLERK_RATE_LIMITED", "Clerk's Backend API is rate limiting this instance", {
      retryAfterSeconds: answer.retryAfterSeconds,
    });
  }
  if (answer.status === 401 || answer.status === 403) {
    return new UserSyncError("CLERK_KEY_REJECTED", `Clerk's Backend API rejected CLERK_SECRET_KEY (${answer.status})`);
  }
  if (answer.status === 404) {
    return new UserSyncError(
      "CLERK_UNAVAILABLE",
      codes.length > 0
        ? `Clerk's Backend API answered 404 (${codes.join(", ")})`
        : "The Backend API URL answered 404 without a Clerk error (is CLERK_API_URL Clerk's Backend API?)",
    );
  }
  return new UserSyncError("CLERK_UNAVAILABLE", `Clerk's Backend API failed (${answer.status})`);
}

/** A write's answer: the user's JSON, or why not. */
function writtenUser(answer: JsonAnswer): unknown {
  if (answer.status === 200) {
    if (answer.json === undefined) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a user that is not JSON");
    return answer.json;
  }
  if (answer.status === 400 || answer.status === 404 || answer.status === 422) {
    const refusal = clerkRefusalBody.safeParse(answer.json);
    if (refusal.success) {
      throw new ClerkRefusedError(
        answer.status,
        refusal.data.errors.map((e) => ({ code: e.code, message: e.long_message ?? e.message ?? e.code, paramName: e.meta?.param_name ?? null })),
      );
    }
  }
  throw failure(answer);
}

/**
 * `clerk` is read at each call (its fields may be getters over the environment), so a module
 * that creates the client loads, and a build succeeds, without Clerk's settings.
 */
export function createClerkBackendApi(clerk: ClerkBackendApiOptions, options: { timeoutMs: number }) {
  const send = (method: string, path: string, body?: { json: unknown } | { form: FormData }) => request(clerk, options.timeoutMs, method, path, body);
  const get = (path: string) => send("GET", path);

  return {
    /**
     * `PATCH /v1/users/{id}` with the given fields: the updated user's JSON as Clerk serves it.
     * A cleared field (null) is sent as `""`: Clerk documents the blank string as clearing
     * `username` (null too) and its own Go SDK clears names only with `""`; `null` for
     * `first_name`/`last_name` is undocumented.
     */
    async updateUser(userId: string, update: ClerkUserUpdate): Promise<unknown> {
      const json: Record<string, string> = {};
      if (update.firstName !== undefined) json.first_name = update.firstName ?? "";
      if (update.lastName !== undefined) json.last_name = update.lastName ?? "";
      if (update.username !== undefined) json.username = update.username ?? "";
      return writtenUser(await send("PATCH", `/users/${encodeURIComponent(userId)}`, { json }));
    },
    /** `POST /v1/users/{id}/profile_image` with the image as the multipart `file`: the updated user's JSON. */
    async updateUserProfileImage(userId: string, file: File): Promise<unknown> {
      const form = new FormData();
      form.append("file", file);
      return writtenUser(await send("POST", `/users/${encodeURIComponent(userId)}/profile_image`, { form }));
    },
    /** The user's JSON as Clerk serves it, or `userNotFound` when Clerk says `resource_not_found`. */
    async getUser(userId: string): Promise<unknown> {
      const answer = await get(`/users/${encodeURIComponent(userId)}`);
      if (answer.status === 200) {
        if (answer.json === undefined) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a user that is not JSON");
        return answer.json;
      }
      if (answer.status === 404 && clerkErrorCodes(answer.json).includes("resource_not_found")) return userNotFound;
      throw failure(answer);
    },
    /** How many users the instance has (`total_count`), or how many match `filters` (the list's own filters). */
    async getUserCount(filters: UserListQuery = {}): Promise<number> {
      const answer = await get(`/users/count${queryString(filters)}`);
      if (answer.status !== 200) throw failure(answer);
      const parsed = countBody.safeParse(answer.json);
      if (!parsed.success) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a user count that is not a count");
      return parsed.data.total_count;
    },
    /**
     * `GET /v1/users` with `query` (`limit`, `order_by`, `starting_after`, `offset`, `user_id`,
     * …): the users' JSON as Clerk serves them. A parameter Clerk refuses (400/422 with its
     * `errors[]`, e.g. a `starting_after` that names no user) is a `ClerkRefusedError`.
     */
    async listUsers(query: UserListQuery): Promise<unknown[]> {
      const answer = await get(`/users${queryString(query)}`);
      if (answer.status === 200) {
        if (!Array.isArray(answer.json)) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a user list that is not a list");
        return answer.json as unknown[];
      }
      if (answer.status === 400 || answer.status === 422) writtenUser(answer);
      throw failure(answer);
    },
    /** The key ids (`kid`) of the instance's session-signing keys. */
    async getJwksKeyIds(): Promise<string[]> {
      const answer = await get("/jwks");
      if (answer.status !== 200) throw failure(answer);
      const parsed = jwksBody.safeParse(answer.json);
      if (!parsed.success) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent JWKS that are not a key set");
      return parsed.data.keys.flatMap((key) => (key.kid ? [key.kid] : []));
    },
  };
}

export type ClerkBackendApi = ReturnType<typeof createClerkBackendApi>;

/** Query parameters of `GET /v1/users` and `/v1/users/count`; an array repeats the parameter (`user_id`). */
export type UserListQuery = Record<string, string | number | readonly string[] | undefined>;

function queryString(query: UserListQuery): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const item of typeof value === "object" ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function clerkErrorCodes(json: unknown): string[] {
  const parsed = clerkErrorBody.safeParse(json);
  return parsed.success ? parsed.data.errors.map((e) => e.code.slice(0, 60)) : [];
}

function requestFailure(error: unknown, signal: AbortSignal, timeoutMs: number): UserSyncError {
  if (error instanceof UserSyncError) return error;
  if (signal.aborted) return new UserSyncError("CLERK_TIMEOUT", `Clerk did not answer within ${timeoutMs} ms`);
  const code = socketCode(error);
  return new UserSyncError("CLERK_UNAVAILABLE", `Clerk's Backend API could not be reached${code ? ` (${code})` : ""}`);
}

function socketCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z_]{3,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
