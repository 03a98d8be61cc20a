import http from "node:http";
import type { AddressInfo } from "node:net";

import { http as mswHttp } from "msw";

import { clerkApiUrl, clerkUserJson, testSessionKeyId, type ClerkUserInput } from "./clerk-backend";

/** A user of the directory: a `ClerkUserInput` with its creation time (Clerk's list order). */
export type DirectoryUser = ClerkUserInput & { createdAtMs: number };


/** One request the directory answered (its log, `requests`). */
export type DirectoryRequest = {
  atMs: number;
  endpoint: "list" | "count" | "get" | "jwks";
  status: number;
  offset: number;
  limit: number;
  userIds: number;
  startingAfter: string | null;
  orderBy: string;
};

/** One list page as served (for `onListPage`: Clerk changing mid-walk). */
export type ListPage = { offset: number; limit: number; orderBy: string; userIds: string[]; startingAfter: string | null; served: string[]; listCall: number };

/** 429s with `Retry-After`, on every Nth request. */
export type RateLimitFault = {
  /** Every Nth request (all endpoints, counting from 1) is answered 429. */
  everyNth: number;
  retryAfterSeconds: number;
};

/** What a deep `offset` costs: Clerk's "gets progressively slower and eventually times out". */
export type OffsetCost = { timeoutDepth: number | null; latencyMsPer1000: number; holdMs: number };

/** Clerk's answer to a `starting_after` naming no user: unknown, so each is a switch. */
export type UnknownCursor = "error" | "empty" | "continue";

/** The JWKS key id another Clerk instance serves (`setInstance("other")`). */
export const otherInstanceKeyId = "ins_another_instance";
const defaultOffsetCost: OffsetCost = { timeoutDepth: 10_000, latencyMsPer1000: 0, holdMs: 0 };

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const clerkError = (status: number, code: string, message: string, headers: Record<string, string> = {}, paramName?: string) =>
  json({ errors: [{ code, message, long_message: message, ...(paramName ? { meta: { param_name: paramName } } : {}) }], clerk_trace_id: "trace_test" }, status, headers);

const byCreated = (a: { createdAtMs: number; id: string }, b: { createdAtMs: number; id: string }) =>
  a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Clerk's user directory as the Backend API lists it, with Clerk's rules (Backend API
 * 2026-05-12, `GET /v1/users`):
 *
 * - `limit` 1–500; any other number answers Clerk's default page of 10 (not an error).
 * - `offset`; past `offsetCost.timeoutDepth` users a page times out like Clerk's (504
 *   `request_timeout`, after `holdMs`), and each 1,000 users skipped adds `latencyMsPer1000`.
 * - `starting_after` (a user id): the users after it, only with `created_at` ordering (`order_by`
 *   omitted, `created_at`, `+created_at`, `-created_at`; otherwise 422) and no `offset` (422). An
 *   id of no user (deleted during a walk) is unknown on Clerk: `unknownCursor` answers 422
 *   (`error`, the default), an empty page (`empty`) or the users after where it stood (`continue`).
 * - `order_by` ±created_at / ±updated_at (default `-created_at`), ties broken by id.
 * - `user_id` (≤ 100, each optionally `+` include / `-` exclude), `created_at_after` /
 *   `created_at_before` (strict, ms); `GET /v1/users/count` takes the same filters.
 * - `GET /v1/users/:id`, and `GET /v1/jwks` with this instance's key id (`ins_test`, the kid of
 *   the tests' session tokens) or another instance's (`setInstance("other")`: none of these users).
 *
 * One store and one request log serve both msw (same process) and a real HTTP server
 * (`listen()`, for child processes such as the CLI and the benchmark), so a test can change
 * Clerk's users between pages, inject 429s with `Retry-After` and read when each request arrived.
 */
export function createClerkUserDirectory() {
  const users = new Map<string, DirectoryUser>();
  /** Where deleted users stood (for `unknownCursor: "continue"`). */
  const removed = new Map<string, { id: string; createdAtMs: number }>();
  const requests: DirectoryRequest[] = [];
  let nextCreatedAtMs = 1_700_000_000_000;
  let rateLimit: RateLimitFault | null = null;
  let latencyMs = 0;
  let requestCount = 0;
  let listCalls = 0;
  let afterListPage: ((page: ListPage) => void) | null = null;
  let held: Promise<void> | null = null;
  let offsetCost = { ...defaultOffsetCost };
  let unknownCursor: UnknownCursor = "error";
  let instance: "this" | "other" = "this";
  /** Filtered (`user_id`) pages leave out their last N users while the count stays right: a short confirmation. */
  let shortFilteredPages = 0;
  let keepLog = true;
  /** The next `times` list requests answer `status` (504 `request_timeout`: a page Clerk could not serve in time). */
  let listFault: { status: number; times: number } | null = null;
  /** Every `GET /v1/users/:id` answers this status (a Clerk outage for single users). */
  let getFault: number | null = null;

  // Sorting 1,000,000 users for every page would dominate a benchmark: cached until users change.
  let ascending: DirectoryUser[] | null = null;
  let positions: Map<string, number> | null = null;
  const sortedCache = new Map<string, DirectoryUser[]>();
  function createdAscending() {
    if (!ascending) {
      ascending = [...users.values()].sort(byCreated);
      positions = null;
    }
    return ascending;
  }
  function positionOf(id: string) {
    positions ??= new Map(createdAscending().map((user, index) => [user.id, index]));
    return positions.get(id);
  }
  /** The index of the first user after (createdAtMs, id) in ascending order. */
  function firstAfter(place: { createdAtMs: number; id: string }) {
    const list = createdAscending();
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (byCreated(list[middle]!, place) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
  /** Clerk's order for `order_by`: ±created_at or ±updated_at, ties by creation then id. */
  function comparator(orderBy: string) {
    const descending = orderBy.startsWith("-");
    const byField = orderBy.replace(/^[+-]/, "") === "updated_at" ? (a: DirectoryUser, b: DirectoryUser) => a.updatedAtMs - b.updatedAtMs || byCreated(a, b) : byCreated;
    return descending ? (a: DirectoryUser, b: DirectoryUser) => byField(b, a) : byField;
  }
  function sorted(orderBy: string): DirectoryUser[] {
    if (/^\+?created_at$/.test(orderBy)) return createdAscending();
    const cached = sortedCache.get(orderBy);
    if (cached) return cached;
    const result = orderBy === "-created_at" ? [...createdAscending()].reverse() : [...users.values()].sort(comparator(orderBy));
    sortedCache.set(orderBy, result);
    return result;
  }
  function changed() {
    ascending = null;
    positions = null;
    sortedCache.clear();
  }

  const integer = (value: string | null) => (value === null ? null : /^-?\d+$/.test(value) ? Number(value) : Number.NaN);

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/v1/, "");
    const endpoint = path === "/jwks" ? "jwks" : path === "/users/count" ? "count" : path === "/users" ? "list" : "get";
    const params = url.searchParams;
    const userIds = params.getAll("user_id");
    const requestedLimit = integer(params.get("limit"));
    const offset = integer(params.get("offset")) ?? 0;
    const startingAfter = params.get("starting_after");
    const orderBy = params.get("order_by") ?? "-created_at";
    const limit = requestedLimit === null || requestedLimit < 1 || requestedLimit > 500 ? 10 : requestedLimit;
    const log = (status: number) => {
      if (keepLog) requests.push({ atMs: Date.now(), endpoint, status, offset, limit, userIds: userIds.length, startingAfter, orderBy });
    };
    if (held && endpoint === "list") await held;
    requestCount += 1;
    if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (!request.headers.get("authorization")?.startsWith("Bearer sk_")) {
      log(401);
      return clerkError(401, "authentication_invalid", "Invalid secret key");
    }
    if (endpoint === "jwks") {
      log(200);
      // Clerk does not rate-limit JWKS.
      return json({ keys: [{ use: "sig", kty: "RSA", kid: instance === "this" ? testSessionKeyId : otherInstanceKeyId, alg: "RS256", n: "AQAB", e: "AQAB" }] });
    }
    if (rateLimit && requestCount % rateLimit.everyNth === 0) {
      log(429);
      return clerkError(429, "too_many_requests", "Too many requests", { "Retry-After": String(rateLimit.retryAfterSeconds) });
    }
    if (endpoint === "get" && getFault !== null) {
      log(getFault);
      return clerkError(getFault, "internal_clerk_error", "Injected fault");
    }
    if (endpoint === "list" && listFault && listFault.times > 0) {
      listFault.times -= 1;
      log(listFault.status);
      return listFault.status === 504 ? clerkError(504, "request_timeout", "The request timed out") : clerkError(listFault.status, "internal_clerk_error", "Injected fault");
    }
    if (endpoint === "get") {
      const user = instance === "this" ? users.get(decodeURIComponent(path.slice("/users/".length))) : undefined;
      log(user ? 200 : 404);
      return user ? json({ ...clerkUserJson(user), created_at: user.createdAtMs }) : clerkError(404, "resource_not_found", "No user was found");
    }
    const invalid = (param: string, message: string) => {
      log(422);
      return clerkError(422, "form_param_value_invalid", message, {}, param);
    };
    if (userIds.length > 100) return invalid("user_id", "user_id accepts up to 100 ids");
    if (Number.isNaN(requestedLimit)) return invalid("limit", "limit must be an integer");
    if (!Number.isInteger(offset) || offset < 0) return invalid("offset", "offset must be 0 or more");
    const createdAfter = integer(params.get("created_at_after"));
    const createdBefore = integer(params.get("created_at_before"));
    const include = userIds.filter((id) => !id.startsWith("-")).map((id) => id.replace(/^\+/, ""));
    const exclude = new Set(userIds.filter((id) => id.startsWith("-")).map((id) => id.slice(1)));
    const matches = (user: DirectoryUser) =>
      !exclude.has(user.id) &&
      (createdAfter === null || user.createdAtMs > createdAfter) &&
      (createdBefore === null || user.createdAtMs < createdBefore);

    // The candidates in list order: a user_id filter looks its ids up, else the whole sorted list.
    let list: DirectoryUser[];
    let start = 0;
    if (instance === "other") {
      list = [];
    } else if (include.length) {
      list = [...new Set(include)].flatMap((id) => (users.has(id) ? [users.get(id)!] : [])).sort(comparator(orderBy));
    } else if (createdAfter !== null && orderBy.replace(/^\+/, "") === "created_at") {
      list = createdAscending();
      start = firstAfter({ createdAtMs: createdAfter, id: "\uffff" });
    } else {
      list = sorted(orderBy);
    }
    const filtered = () => (start > 0 || exclude.size || createdAfter !== null || createdBefore !== null ? list.slice(start).filter(matches) : list);

    if (endpoint === "count") {
      log(200);
      return json({ object: "total_count", total_count: filtered().length });
    }

    let page: DirectoryUser[];
    if (startingAfter !== null) {
      if (!/^[+-]?created_at$/.test(orderBy)) return invalid("starting_after", "starting_after can only be used when ordering by created_at");
      if (offset !== 0) return invalid("starting_after", "starting_after cannot be combined with a non-zero offset");
      const descending = orderBy.startsWith("-");
      const known = users.get(startingAfter);
      const place = known ?? removed.get(startingAfter);
      if (!known && (unknownCursor === "error" || !place)) return invalid("starting_after", "starting_after must be the id of a user of this instance");
      if (!known && unknownCursor === "empty") {
        page = [];
      } else {
        // The ascending list from just past the cursor's place, forwards or backwards, until the page is full.
        const ordered = createdAscending();
        const step = descending ? -1 : 1;
        const from = known ? positionOf(known.id)! + step : firstAfter(place!) - (descending ? 1 : 0);
        page = [];
        for (let i = from; page.length < limit && i >= 0 && i < ordered.length; i += step) {
          const user = ordered[i]!;
          if (matches(user) && (!include.length || include.includes(user.id))) page.push(user);
        }
      }
    } else {
      if (offsetCost.timeoutDepth !== null && offset >= offsetCost.timeoutDepth) {
        await new Promise((resolve) => setTimeout(resolve, offsetCost.holdMs));
        log(504);
        return clerkError(504, "request_timeout", "The request timed out");
      }
      const cost = Math.floor((offset / 1000) * offsetCost.latencyMsPer1000);
      if (cost) await new Promise((resolve) => setTimeout(resolve, cost));
      page = filtered().slice(offset, offset + limit);
    }
    if (include.length && shortFilteredPages) page = page.slice(0, Math.max(0, page.length - shortFilteredPages));
    const body = page.map((u) => ({ ...clerkUserJson(u), created_at: u.createdAtMs }));
    listCalls += 1;
    log(200);
    afterListPage?.({ offset, limit, orderBy, userIds, startingAfter, served: page.map((u) => u.id), listCall: listCalls });
    return json(body);
  }

  const base = () => `${clerkApiUrl()}/v1`;

  return {
    users,
    requests,
    /** msw handlers for this process (register before any other `/v1/users/:id` or `/v1/jwks` handler). */
    handlers: () => [
      mswHttp.get(`${base()}/jwks`, ({ request }) => handle(request)),
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
      removed.delete(user.id);
      changed();
      return user;
    },
    /** Adds `count` users `<prefix>_<n>` (zero-padded) in creation order, quickly (benchmarks). */
    addMany(count: number, prefix = "user_bulk") {
      const width = String(count).length;
      for (let i = 0; i < count; i++) {
        nextCreatedAtMs += 1;
        const id = `${prefix}_${String(i).padStart(width, "0")}`;
        users.set(id, { id, email: `${id}@example.com`, firstName: "Bulk", lastName: String(i), updatedAtMs: nextCreatedAtMs, createdAtMs: nextCreatedAtMs });
      }
      changed();
    },
    update(id: string, patch: Partial<ClerkUserInput>) {
      const user = users.get(id);
      if (!user) throw new Error(`no user ${id}`);
      users.set(id, { ...user, ...patch });
      changed();
    },
    remove(id: string) {
      const user = users.get(id);
      if (user) removed.set(id, { id, createdAtMs: user.createdAtMs });
      users.delete(id);
      changed();
    },
    setRateLimit(fault: RateLimitFault | null) {
      rateLimit = fault;
    },
    setLatency(ms: number) {
      latencyMs = ms;
    },
    setOffsetCost(cost: Partial<OffsetCost>) {
      offsetCost = { ...offsetCost, ...cost };
    },
    setUnknownCursor(answer: UnknownCursor) {
      unknownCursor = answer;
    },
    /** `other`: the secret key belongs to another Clerk instance (other JWKS, none of these users). */
    setInstance(next: "this" | "other") {
      instance = next;
    },
    /** `user_id`-filtered pages leave out their last `n` users while `/count` stays right. */
    setShortFilteredPages(n: number) {
      shortFilteredPages = n;
    },
    /** The next `times` list requests answer `status` (504: Clerk's `request_timeout`). */
    failNextLists(status: number, times = 1) {
      listFault = { status, times };
    },
    /** Every `GET /v1/users/:id` answers `status` (null: none). */
    setGetFault(status: number | null) {
      getFault = status;
    },
    /** Whether requests are logged (a benchmark of a million users turns it off). */
    setRequestLog(on: boolean) {
      keepLog = on;
    },
    /** Requests answered so far (all endpoints). */
    requestCount: () => requestCount,
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
      removed.clear();
      changed();
      requests.length = 0;
      rateLimit = null;
      latencyMs = 0;
      requestCount = 0;
      listCalls = 0;
      afterListPage = null;
      held = null;
      offsetCost = { ...defaultOffsetCost };
      unknownCursor = "error";
      instance = "this";
      shortFilteredPages = 0;
      keepLog = true;
      listFault = null;
      getFault = null;
    },
    /** Serves the same directory over real HTTP (for another process); resolves its base URL. */
    async listen(port = 0): Promise<{ url: string; close: () => Promise<void> }> {
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
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      const { port: bound } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${bound}`,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    },
  };
}

/** The directory `createClerkUserDirectory()` returns. */
export type ClerkUserDirectory = ReturnType<typeof createClerkUserDirectory>;
