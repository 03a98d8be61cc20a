import type { UserJSON } from "@clerk/backend";
import { delay, http, HttpResponse } from "msw";

/**
 * An msw stand-in for Clerk's Backend API, with a user store and a call log. Responses have
 * Clerk's exact shapes (snake_case, ms timestamps, `application/json`), so the real
 * `@clerk/backend` client parses them as it parses Clerk's.
 */
export const clerkApiUrl = () => {
  const url = process.env.CLERK_API_URL;
  if (!url) throw new Error("CLERK_API_URL is not set for the tests");
  return url;
};

export type ClerkUserInput = {
  id: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
  updatedAtMs: number;
  /** Extra, non-primary addresses, listed first to catch `email_addresses[0]` bugs. */
  otherEmails?: string[];
};

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
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    email_addresses: emails.map(({ id, address }) => ({
      object: "email_address",
      id,
      email_address: address,
      verification: { status: "verified", strategy: "email_code" },
      linked_to: [],
    })),
    phone_numbers: [],
    web3_wallets: [],
    external_accounts: [],
    enterprise_accounts: [],
    passkeys: [],
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    password_enabled: false,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    banned: false,
    locked: false,
    last_sign_in_at: input.updatedAtMs,
    last_active_at: input.updatedAtMs,
    created_at: 1_700_000_000_000,
    updated_at: input.updatedAtMs,
  } as unknown as UserJSON;
}

export type BackendFault =
  | { kind: "status"; status: number; retryAfterSeconds?: number }
  | { kind: "hang" }
  | { kind: "malformed" }
  | { kind: "wrong-content-type" };

export function createClerkBackend() {
  const users = new Map<string, ClerkUserInput>();
  const calls: { method: string; path: string; authorization: string | null }[] = [];
  let fault: BackendFault | null = null;
  let latencyMs = 0;

  const getUser = http.get(`${clerkApiUrl()}/v1/users/:id`, async ({ request, params }) => {
    calls.push({ method: "GET", path: new URL(request.url).pathname, authorization: request.headers.get("authorization") });
    if (latencyMs) await delay(latencyMs);
    if (fault?.kind === "hang") await delay("infinite");
    if (fault?.kind === "status") {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (fault.retryAfterSeconds !== undefined) headers["Retry-After"] = String(fault.retryAfterSeconds);
      return new HttpResponse(
        JSON.stringify({ errors: [{ code: fault.status === 429 ? "too_many_requests" : "internal_clerk_error", message: "fault", long_message: "injected fault" }] }),
        { status: fault.status, headers },
      );
    }
    if (fault?.kind === "malformed") {
      return new HttpResponse("{ not json", { status: 200, headers: { "Content-Type": "application/json" } });
    }
    const user = users.get(String(params.id));
    if (!user) {
      return new HttpResponse(
        JSON.stringify({ errors: [{ code: "resource_not_found", message: "not found", long_message: "User not found" }] }),
        { status: 404, headers: { "Content-Type": "application/json" } },
      );
    }
    if (fault?.kind === "wrong-content-type") {
      return new HttpResponse(JSON.stringify(clerkUserJson(user)), { status: 200, headers: { "Content-Type": "text/html" } });
    }
    return new HttpResponse(JSON.stringify(clerkUserJson(user)), { status: 200, headers: { "Content-Type": "application/json" } });
  });

  return {
    handlers: [getUser],
    users,
    calls,
    getUserCalls: () => calls.filter((c) => c.method === "GET" && c.path.startsWith("/v1/users/")).length,
    setUser(input: ClerkUserInput) {
      users.set(input.id, input);
    },
    setFault(next: BackendFault | null) {
      fault = next;
    },
    setLatency(ms: number) {
      latencyMs = ms;
    },
    reset() {
      users.clear();
      calls.length = 0;
      fault = null;
      latencyMs = 0;
    },
  };
}
