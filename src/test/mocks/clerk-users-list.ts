import http from "node:http";
import type { AddressInfo } from "node:net";

import { http as mswHttp } from "msw";

import { clerkApiUrl, clerkUserJson, type ClerkUserInput } from "./clerk-backend";

/**
 * Clerk's user directory as the Backend API lists it: `GET /v1/users` (`limit` 1–500, `offset`,
 * `order_by` ±created_at/updated_at, `user_id` filters ≤ 100), `GET /v1/users/count` with the
 * same filters, and `GET /v1/users/:id`. One store and one request log serve both msw (same
 * process) and a real HTTP server (`listen()`, for child processes such as the CLI), so a test
 * can change Clerk's users between pages, inject 429s with `Retry-After` and read when each
 * request arrived.
 */
export type DirectoryUser = ClerkUserInput & { createdAtMs: number };

export type DirectoryRequest = {
  atMs: number;
  endpoint: "list" | "count" | "get";
  status: number;
  offset: number;
  limit: number;
  userIds: number;
};

export type ListPage = { offset: number; limit: number; orderBy: string; userIds: string[]; served: string[]; listCall: number };

export type RateLimitFault = {
  /** Every Nth request (all endpoints, counting from 1) is answered 429. */
  everyNth: number;
  retryAfterSeconds: number;
};

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const clerkError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json({ errors: [{ code, message, long_message: message }], clerk_trace_id: "trace_test" }, status, headers);

export function createClerkUserDirectory() {
  const users = new Map<string, DirectoryUser>();
  const requests: DirectoryRequest[] = [];
  let nextCreatedAtMs = 1_700_000_000_000;
  let rateLimit: RateLimitFault | null = null;
  let latencyMs = 0;
  let requestCount = 0;
  let listCalls = 0;
  let afterListPage: ((page: ListPage) => void) | null = null;
  let held: Promise<void> | null = null;

  // Sorting 100,000 users for every page would dominate a benchmark: cached until users change.
  const sortedCache = new Map<string, DirectoryUser[]>();
  function sorted(orderBy: string) {
    const cached = sortedCache.get(orderBy);
    if (cached) return cached;
    const result = sortUsers(orderBy);
    sortedCache.set(orderBy, result);
    return result;
  }

  function sortUsers(orderBy: string) {
    const descending = orderBy.startsWith("-");
    const field = orderBy.replace(/^[+-]/, "");
    const key = (u: DirectoryUser) => (field === "updated_at" ? u.updatedAtMs : u.createdAtMs);
    return [...users.values()].sort((a, b) => {
      const byKey = descending ? key(b) - key(a) : key(a) - key(b);
      return byKey !== 0 ? byKey : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/v1/, "");
    const endpoint = path === "/users/count" ? "count" : path === "/users" ? "list" : "get";
    const userIds = url.searchParams.getAll("user_id");
    const limit = Number(url.searchParams.get("limit") ?? 10);
    const offset = Number(url.searchParams.get("offset") ?? 0);
    const log = (status: number) => requests.push({ atMs: Date.now(), endpoint, status, offset, limit, userIds: userIds.length });
    if (held && endpoint === "list") await held;
    requestCount += 1;
    if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (!request.headers.get("authorization")?.startsWith("Bearer sk_")) {
      log(401);
      return clerkError(401, "authentication_invalid", "Invalid secret key");
    }
    if (rateLimit && requestCount % rateLimit.everyNth === 0) {
      log(429);
      return clerkError(429, "too_many_requests", "Too many requests", { "Retry-After": String(rateLimit.retryAfterSeconds) });
    }
    if (endpoint === "get") {
      const user = users.get(decodeURIComponent(path.slice("/users/".length)));
      log(user ? 200 : 404);
      return user ? json({ ...clerkUserJson(user), created_at: user.createdAtMs }) : clerkError(404, "resource_not_found", "User not found");
    }
    if (userIds.length > 100 || !Number.isInteger(limit) || limit < 1 || limit > 500 || !Number.isInteger(offset) || offset < 0) {
      log(422);
      return clerkError(422, "form_param_value_invalid", "Invalid list parameters");
    }
    const orderBy = url.searchParams.get("order_by") ?? "-created_at";
    const idFilter = userIds.length ? new Set(userIds) : null;
    const matching = sorted(orderBy).filter((u) => !idFilter || idFilter.has(u.id));
    if (endpoint === "count") {
      log(200);
      return json({ object: "total_count", total_count: matching.length });
    }
    const page = matching.slice(offset, offset + limit);
    const body = page.map((u) => ({ ...clerkUserJson(u), created_at: u.createdAtMs }));
    listCalls += 1;
    log(200);
    afterListPage?.({ offset, limit, orderBy, userIds, served: page.map((u) => u.id), listCall: listCalls });
    return json(body);
  }

  const base = () => `${clerkApiUrl()}/v1`;

  return {
    users,
    requests,
    /** msw handlers for this process (register before any other `/v1/users/:id` handler). */
    handlers: () => [
      mswHttp.get(`${base()}/users/count`, ({ request }) => handle(request)),
      mswHttp.get(`${base()}/users`, ({ request }) => handle(request)),
      mswHttp.get(`${base()}/users/:id`, ({ request }) => handle(request)),
    ],
    handle,
    /** Adds a user created now (in list order: after every user added before). */
    add(input: Omit<DirectoryUser, "createdAtMs"> & { createdAtMs?: number }) {
      nextCreatedAtMs += 1;
      const user = { ...input, createdAtMs: input.createdAtMs ?? nextCreatedAtMs };
      users.set(user.id, user);
      sortedCache.clear();
      return user;
    },
    update(id: string, patch: Partial<ClerkUserInput>) {
      const user = users.get(id);
      if (!user) throw new Error(`no user ${id}`);
      users.set(id, { ...user, ...patch });
      sortedCache.clear();
    },
    remove(id: string) {
      users.delete(id);
      sortedCache.clear();
    },
    setRateLimit(fault: RateLimitFault | null) {
      rateLimit = fault;
    },
    setLatency(ms: number) {
      latencyMs = ms;
    },
    /** List requests arriving from now on wait (unanswered) until `release()` is called. */
    hold(): () => void {
      let release = () => undefined as void;
      held = new Promise<void>((resolve) => (release = resolve));
      const current = held;
      return () => {
        if (held === current) held = null;
        release();
      };
    },
    /** Runs after each list page is computed, before it is answered: Clerk changing mid-walk. */
    onListPage(hook: ((page: ListPage) => void) | null) {
      afterListPage = hook;
    },
    reset() {
      users.clear();
      sortedCache.clear();
      requests.length = 0;
      rateLimit = null;
      latencyMs = 0;
      requestCount = 0;
      listCalls = 0;
      afterListPage = null;
      held = null;
    },
    /** Serves the same directory over real HTTP (for another process); resolves its base URL. */
    async listen(): Promise<{ url: string; close: () => Promise<void> }> {
      const server = http.createServer((req, res) => {
        const request = new Request(new URL(req.url ?? "/", "http://127.0.0.1"), { headers: req.headers as Record<string, string> });
        handle(request)
          .then(async (response) => {
            res.writeHead(response.status, Object.fromEntries(response.headers));
            res.end(Buffer.from(await response.arrayBuffer()));
          })
          .catch(() => {
            res.writeHead(500);
            res.end();
          });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    },
  };
}

export type ClerkUserDirectory = ReturnType<typeof createClerkUserDirectory>;
