/**
 * The two Backend API calls user sync makes (`GET /v1/users/{id}`, `GET /v1/jwks`), each
 * bounded by a timeout whose `AbortSignal` reaches the request, so a hanging Clerk leaves no
 * open request behind. `@clerk/backend`'s client cannot do that: it binds `fetch` when it loads
 * and passes no signal. Requests carry the headers its client sends (Bearer secret key,
 * `Clerk-API-Version`); answers are classified here:
 *
 * - 404 is "user deleted" only with Clerk's own JSON error `resource_not_found`; any other 404
 *   (an HTML page from a proxy, a wrong `CLERK_API_URL` path) is `CLERK_UNAVAILABLE`.
 * - 401/403 is `CLERK_KEY_REJECTED`, 429 `CLERK_RATE_LIMITED` (with `Retry-After`), other
 *   failures `CLERK_UNAVAILABLE`, a body that is not Clerk's `CLERK_MALFORMED`.
 *
 * Errors name statuses and Clerk error codes, never the key, a body or a user's data.
 */
import { z } from "zod";

import { UserSyncError } from "./errors";

export type ClerkBackendApiOptions = {
  /** The instance's secret key (`CLERK_SECRET_KEY`), sent as `Authorization: Bearer`. */
  secretKey: string;
  /** The Backend API's base URL (`CLERK_API_URL`); default `https://api.clerk.com`. */
  apiUrl?: string;
};

/** What @clerk/backend 3.20.1 sends: the API version its resource parsers are written for. */
const clerkApiVersion = "2026-05-12";
const defaultApiUrl = "https://api.clerk.com";

export const userNotFound = Symbol("clerk-user-not-found");

const clerkErrorBody = z.object({ errors: z.array(z.object({ code: z.string() }).loose()) }).loose();
const jwksBody = z.object({ keys: z.array(z.object({ kid: z.string().optional() }).loose()) }).loose();

type JsonAnswer = { status: number; json: unknown; retryAfterSeconds: number | null };

export function createClerkBackendApi(options: ClerkBackendApiOptions & { timeoutMs: number }) {
  const baseUrl = (options.apiUrl ?? defaultApiUrl).replace(/\/+$/, "");

  async function get(path: string): Promise<JsonAnswer> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/v1${path}`, {
        method: "GET",
        headers: {
          Authorization: `Bearer ${options.secretKey}`,
          "Clerk-API-Version": clerkApiVersion,
          Accept: "application/json",
        },
        signal,
        cache: "no-store",
      });
    } catch (error) {
      throw requestFailure(error, signal, options.timeoutMs);
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
      if (signal.aborted) throw requestFailure(error, signal, options.timeoutMs);
      if (response.ok) throw new UserSyncError("CLERK_MALFORMED", "Clerk's Backend API sent a body that is not JSON");
    }
    const retryAfter = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
    return { status: response.status, json, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null };
  }

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

  return {
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
