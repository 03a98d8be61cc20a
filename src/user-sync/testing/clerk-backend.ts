import { createPublicKey } from "node:crypto";

import type { UserJSON } from "@clerk/backend";
import { delay, http, HttpResponse } from "msw";

/** The Backend API's base URL the doubles answer on: `CLERK_API_URL` (throws when it is not set). */
export const clerkApiUrl = () => {
  const url = process.env.CLERK_API_URL;
  if (!url) throw new Error("CLERK_API_URL is not set for the tests");
  return url;
};

/** A Clerk user as a test states it (camelCase, times in ms); `clerkUserJson` turns it into Clerk's JSON. */
export type ClerkUserInput = {
  id: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
  updatedAtMs: number;
  /** Extra, non-primary addresses, listed first to catch `email_addresses[0]` bugs. */
  otherEmails?: string[];
  /** The primary phone number (E.164). */
  phone?: string | null;
  banned?: boolean;
  locked?: boolean;
  /** Clerk's `public_metadata` (e.g. `{ role: "admin" }`); default `{}`. */
  publicMetadata?: Record<string, unknown>;
};

/** Clerk's `UserJSON` for `input`, as the Backend API and webhooks send it (the primary email last). */
export function clerkUserJson(input: ClerkUserInput): UserJSON {
  const primaryId = input.email ? `idn_primary_${input.id}` : null;
  const emails = [
    ...(input.otherEmails ?? []).map((address, i) => ({ id: `idn_other_${i}_${input.id}`, address })),
    ...(input.email && primaryId ? [{ id: primaryId, address: input.email }] : []),
  ];
  return {
    object: "user",
    id: input.id,
    external_id: null,
    username: input.username ?? null,
    first_name: input.firstName ?? null,
    last_name: input.lastName ?? null,
    image_url: `https://img.clerk.test/${input.id}.png`,
    has_image: false,
    primary_email_address_id: primaryId,
    primary_phone_number_id: input.phone ? `idn_phone_${input.id}` : null,
    primary_web3_wallet_id: null,
    email_addresses: emails.map(({ id, address }) => ({
      object: "email_address",
      id,
      email_address: address,
      verification: { status: "verified", strategy: "email_code" },
      linked_to: [],
    })),
    phone_numbers: input.phone
      ? [{ object: "phone_number", id: `idn_phone_${input.id}`, phone_number: input.phone, verification: { status: "verified", strategy: "phone_code" } }]
      : [],
    web3_wallets: [],
    external_accounts: [],
    enterprise_accounts: [],
    passkeys: [],
    public_metadata: input.publicMetadata ?? {},
    private_metadata: {},
    unsafe_metadata: {},
    password_enabled: false,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    banned: input.banned ?? false,
    locked: input.locked ?? false,
    last_sign_in_at: input.updatedAtMs,
    last_active_at: input.updatedAtMs,
    created_at: 1_700_000_000_000,
    updated_at: input.updatedAtMs,
  } as unknown as UserJSON;
}

/** A fault `createClerkBackend()` answers with instead of the user (or the JWKS). */
export type BackendFault =
  /** Clerk's JSON error; `message` stands in for Clerk echoing input back (e.g. an email). */
  | { kind: "status"; status: number; retryAfterSeconds?: number; message?: string }
  | { kind: "hang" }
  | { kind: "malformed" }
  | { kind: "wrong-content-type" }
  /** A 404 page from a proxy or a wrong path: HTML, no Clerk error. */
  | { kind: "html-404" }
  /** A 404 with no body at all. */
  | { kind: "bare-404" };

/** The key id of the session tokens `mintSessionToken` signs (this instance's JWKS serve it). */
export const testSessionKeyId = "ins_test";

/** The run's session-signing public key as the Backend API's `GET /v1/jwks` serves it. */
function sessionJwk(kid: string) {
  const pem = process.env.CLERK_JWT_KEY;
  if (!pem) throw new Error("CLERK_JWT_KEY is not set for the tests");
  return { ...createPublicKey(pem).export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
}

const clerkError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new HttpResponse(JSON.stringify({ errors: [{ code, message, long_message: message }], clerk_trace_id: "trace_test" }), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });

/**
 * Which Clerk instance answers. `other`: the app holds another instance's secret key, so the
 * JWKS carry another key id and every user of this instance is `resource_not_found`.
 */
export type BackendInstance = "this" | "other";

/**
 * An msw stand-in for Clerk's Backend API (`GET /v1/jwks`, `GET /v1/users/:id`), with a user
 * store, a call log and injectable faults. Responses have Clerk's exact shapes (snake_case, ms
 * timestamps, `application/json`), so the real `@clerk/backend` client parses them as it parses
 * Clerk's. Register `handlers` with msw's `setupServer`; call `reset()` between tests.
 */
export function createClerkBackend() {
  const users = new Map<string, ClerkUserInput>();
  const calls: { method: string; path: string; authorization: string | null }[] = [];
  let fault: BackendFault | null = null;
  let jwksFault: BackendFault | null = null;
  let latencyMs = 0;
  let instance: BackendInstance = "this";
  let openRequests = 0;
  let abortedRequests = 0;

  /** Counts a request as open until it is answered or its client aborts it. */
  function observe(request: Request) {
    openRequests++;
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      openRequests--;
    };
    request.signal.addEventListener("abort", () => {
      if (open) abortedRequests++;
      close();
    });
    return close;
  }

  function authorized(request: Request) {
    calls.push({ method: request.method, path: new URL(request.url).pathname, authorization: request.headers.get("authorization") });
    return request.headers.get("authorization") === `Bearer ${process.env.CLERK_SECRET_KEY}`;
  }

  const jwks = http.get(`${clerkApiUrl()}/v1/jwks`, async ({ request }) => {
    if (!authorized(request)) return clerkError(401, "authentication_invalid", "Invalid secret key");
    const close = observe(request);
    try {
      if (jwksFault?.kind === "hang") await delay("infinite");
      if (jwksFault?.kind === "status") return clerkError(jwksFault.status, "internal_clerk_error", "injected fault");
      if (jwksFault?.kind === "html-404") return new HttpResponse("<h1>Not Found</h1>", { status: 404, headers: { "Content-Type": "text/html" } });
      return HttpResponse.json({ keys: [sessionJwk(instance === "this" ? testSessionKeyId : "ins_another_instance")] });
    } finally {
      close();
    }
  });

  const getUser = http.get(`${clerkApiUrl()}/v1/users/:id`, async ({ request, params }) => {
    if (!authorized(request)) return clerkError(401, "authentication_invalid", "Invalid secret key");
    const close = observe(request);
    try {
      return await answerGetUser(String(params.id));
    } finally {
      close();
    }
  });

  async function answerGetUser(userId: string) {
    if (latencyMs) await delay(latencyMs);
    if (fault?.kind === "hang") await delay("infinite");
    if (fault?.kind === "html-404") {
      return new HttpResponse("<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", { status: 404, headers: { "Content-Type": "text/html" } });
    }
    if (fault?.kind === "bare-404") return new HttpResponse(null, { status: 404 });
    if (fault?.kind === "status") {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (fault.retryAfterSeconds !== undefined) headers["Retry-After"] = String(fault.retryAfterSeconds);
      return new HttpResponse(
        JSON.stringify({
          errors: [{ code: fault.status === 429 ? "too_many_requests" : "internal_clerk_error", message: fault.message ?? "fault", long_message: fault.message ?? "injected fault" }],
        }),
        { status: fault.status, headers },
      );
    }
    if (fault?.kind === "malformed") {
      return new HttpResponse("{ not json", { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const user = instance === "this" ? users.get(userId) : undefined;
    if (!user) return clerkError(404, "resource_not_found", "User not found");
    if (fault?.kind === "wrong-content-type") {
      return new HttpResponse(JSON.stringify(clerkUserJson(user)), { status: 200, headers: { "Content-Type": "text/html" } });
    }
    return new HttpResponse(JSON.stringify(clerkUserJson(user)), { status: 200, headers: { "Content-Type": "application/json" } });
  }

  return {
    handlers: [jwks, getUser],
    users,
    calls,
    getUserCalls: () => calls.filter((c) => c.method === "GET" && c.path.startsWith("/v1/users/")).length,
    jwksCalls: () => calls.filter((c) => c.method === "GET" && c.path === "/v1/jwks").length,
    /** Requests neither answered nor aborted yet (a hang holds one open until its client aborts it). */
    openRequests: () => openRequests,
    /** Requests whose client aborted them while they were open. */
    abortedRequests: () => abortedRequests,
    setInstance(next: BackendInstance) {
      instance = next;
    },
    setUser(input: ClerkUserInput) {
      users.set(input.id, input);
    },
    /** A fault of `GET /v1/users/:id`. */
    setFault(next: BackendFault | null) {
      fault = next;
    },
    /** A fault of `GET /v1/jwks` (hang, status, html-404). */
    setJwksFault(next: BackendFault | null) {
      jwksFault = next;
    },
    setLatency(ms: number) {
      latencyMs = ms;
    },
    reset() {
      users.clear();
      calls.length = 0;
      fault = null;
      jwksFault = null;
      latencyMs = 0;
      instance = "this";
      openRequests = 0;
      abortedRequests = 0;
    },
  };
}

/** The stand-in `createClerkBackend()` returns. */
export type ClerkBackend = ReturnType<typeof createClerkBackend>;
