import { delay, http, HttpResponse } from "msw";

import { clerkApiUrl, clerkUserJson, type createClerkBackend } from "./clerk-backend";

/**
 * Clerk's Backend API write endpoints for profile edits, on the user store of
 * `createClerkBackend()` (so its `GET /v1/users/:id` sees every change):
 * - `PATCH /v1/users/:id`: applies `first_name`, `last_name`, `username` as Clerk does, bumps
 *   `updated_at`, answers the user; a username another user holds is Clerk's 422
 *   `form_identifier_exists` on `meta.param_name: "username"`; more than `patchLimit` requests for
 *   one user within `patchWindowMs` are Clerk's 429 with `Retry-After`.
 * - `POST /v1/users/:id/profile_image`: takes the multipart `file`, answers the user with a new
 *   `image_url`.
 * Every request is logged in `calls` (method, path, body bytes), so tests count Clerk calls.
 */
export function createClerkProfileBackend(clerk: ReturnType<typeof createClerkBackend>) {
  const calls: { method: string; path: string; userId: string; bodyBytes: number }[] = [];
  const patchTimesByUser = new Map<string, number[]>();
  const imageUrls = new Map<string, string>();
  const uploads: { userId: string; type: string; bytes: number; name: string }[] = [];
  // Delays for the next responses, in arrival order: the change is applied on arrival (Clerk's
  // order), only the answer is held back.
  const responseDelaysMs: number[] = [];
  let patchLimit = 10;
  let abortedRequests = 0;
  const patchWindowMs = 10_000;

  const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    new HttpResponse(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

  const clerkError = (status: number, code: string, message: string, paramName?: string, headers: Record<string, string> = {}) =>
    json(
      {
        errors: [{ code, message, long_message: message, ...(paramName ? { meta: { param_name: paramName } } : {}) }],
        clerk_trace_id: "trace_test",
      },
      status,
      headers,
    );

  const notFound = () => clerkError(404, "resource_not_found", "not found");
  const authorized = (request: Request) => request.headers.get("authorization") === `Bearer ${process.env.CLERK_SECRET_KEY}`;

  function userJson(userId: string) {
    const user = clerk.users.get(userId)!;
    const body = clerkUserJson(user) as unknown as Record<string, unknown>;
    const imageUrl = imageUrls.get(userId);
    if (imageUrl) Object.assign(body, { image_url: imageUrl, has_image: true });
    return body;
  }

  function bump(userId: string) {
    const user = clerk.users.get(userId)!;
    clerk.setUser({ ...user, updatedAtMs: Math.max(Date.now(), user.updatedAtMs + 1) });
  }

  const updateUser = http.patch(`${clerkApiUrl()}/v1/users/:id`, async ({ request, params }) => {
    const userId = String(params.id);
    const text = await request.text();
    calls.push({ method: "PATCH", path: new URL(request.url).pathname, userId, bodyBytes: text.length });
    if (!authorized(request)) return clerkError(401, "authentication_invalid", "Invalid secret key");
    const nowMs = Date.now();
    const recent = (patchTimesByUser.get(userId) ?? []).filter((at) => nowMs - at < patchWindowMs);
    recent.push(nowMs);
    patchTimesByUser.set(userId, recent);
    if (recent.length > patchLimit) {
      const retryAfterSeconds = Math.max(1, Math.ceil((recent[recent.length - patchLimit - 1]! + patchWindowMs - nowMs) / 1000));
      return clerkError(429, "too_many_requests", "Too many requests, retry later", undefined, { "Retry-After": String(retryAfterSeconds) });
    }
    const current = clerk.users.get(userId);
    if (!current) return notFound();
    const body = JSON.parse(text || "{}") as Record<string, unknown>;
    const next = { ...current };
    const value = (key: string) => {
      const given = body[key];
      return typeof given === "string" && given !== "" ? given : null;
    };
    // Clerk documents "" as clearing a name; what `null` does to first_name/last_name is not
    // documented (its Go SDK cannot even send it), so this stand-in leaves the name as it was.
    if (typeof body.first_name === "string") next.firstName = value("first_name");
    if (typeof body.last_name === "string") next.lastName = value("last_name");
    if ("username" in body) {
      const username = value("username");
      const holder = [...clerk.users.values()].find(
        (other) => other.id !== userId && username !== null && other.username?.toLowerCase() === username.toLowerCase(),
      );
      if (holder) return clerkError(422, "form_identifier_exists", "That username is taken. Please try another.", "username");
      next.username = username;
    }
    clerk.setUser(next);
    bump(userId);
    const answer = userJson(userId);
    const delayMs = responseDelaysMs.shift();
    if (delayMs) {
      let answered = false;
      request.signal.addEventListener("abort", () => {
        if (!answered) abortedRequests++;
      });
      await delay(delayMs);
      answered = true;
    }
    return json(answer);
  });

  const updateProfileImage = http.post(`${clerkApiUrl()}/v1/users/:id/profile_image`, async ({ request, params }) => {
    const userId = String(params.id);
    const form = await request.formData();
    const file = form.get("file");
    calls.push({ method: "POST", path: new URL(request.url).pathname, userId, bodyBytes: file instanceof Blob ? file.size : 0 });
    if (!authorized(request)) return clerkError(401, "authentication_invalid", "Invalid secret key");
    if (!clerk.users.get(userId)) return notFound();
    if (!(file instanceof Blob)) return clerkError(422, "form_param_missing", "file is missing", "file");
    uploads.push({ userId, type: file.type, bytes: file.size, name: file instanceof File ? file.name : "" });
    imageUrls.set(userId, `https://img.clerk.test/uploaded/${userId}/${uploads.length}.${file.type.split("/")[1]}`);
    bump(userId);
    return json(userJson(userId));
  });

  return {
    handlers: [updateUser, updateProfileImage],
    calls,
    uploads,
    imageUrls,
    patchCalls: () => calls.filter((c) => c.method === "PATCH").length,
    /** Requests whose client gave up (aborted) before the held-back answer was sent. */
    abortedRequests: () => abortedRequests,
    /** Holds back the next answers (in arrival order) by these many milliseconds. */
    delayNextResponses(...delaysMs: number[]) {
      responseDelaysMs.push(...delaysMs);
    },
    setPatchLimit(limit: number) {
      patchLimit = limit;
    },
    reset() {
      calls.length = 0;
      uploads.length = 0;
      patchTimesByUser.clear();
      imageUrls.clear();
      responseDelaysMs.length = 0;
      patchLimit = 10;
      abortedRequests = 0;
    },
  };
}

/** The stand-in `createClerkProfileBackend()` returns. */
export type ClerkProfileBackend = ReturnType<typeof createClerkProfileBackend>;
