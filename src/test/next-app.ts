import { NextRequest, type NextFetchEvent } from "next/server";

import { requestScope } from "./request-scope";

const appOrigin = "http://localhost:3000";

type RouteHandler = (req: NextRequest) => Promise<Response>;

/** Runs the app's real `src/proxy.ts` (clerkMiddleware) on a request, as Next's router would. */
export async function runProxy(request: NextRequest) {
  const { default: proxy } = await import("~/proxy");
  const event = { waitUntil: () => undefined, passThroughOnException: () => undefined } as unknown as NextFetchEvent;
  return proxy(request, event);
}

/**
 * Sends a request through the app as Next would: the real `src/proxy.ts` (clerkMiddleware)
 * first, then the route handler with the request headers the middleware forwarded.
 */
export async function sendThroughApp(
  handler: RouteHandler,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  const url = new URL(path, appOrigin);
  const request = new NextRequest(url, { method: init.method ?? "GET", headers: init.headers, body: init.body });
  const middlewareResponse = await runProxy(request);
  const rewrite = middlewareResponse?.headers.get("x-middleware-rewrite");
  if (rewrite && new URL(rewrite, appOrigin).pathname !== url.pathname) {
    // A rewrite elsewhere (e.g. auth.protect()'s 404): the route handler is never reached.
    return new Response(null, { status: 404, headers: { "x-test-rewritten-to": rewrite } });
  }
  if (middlewareResponse && !middlewareResponse.headers.has("x-middleware-next") && !rewrite) {
    return middlewareResponse;
  }
  const forwarded = new Headers(init.headers);
  const overridden = middlewareResponse?.headers.get("x-middleware-override-headers");
  if (overridden) {
    for (const name of overridden.split(",")) {
      // A request with no headers at all gets an empty list.
      if (!name) continue;
      const value = middlewareResponse?.headers.get(`x-middleware-request-${name}`);
      if (value === null || value === undefined) forwarded.delete(name);
      else forwarded.set(name, value);
    }
  }
  const routed = new NextRequest(url, { method: init.method ?? "GET", headers: forwarded, body: init.body });
  return requestScope.run(forwarded, () => handler(routed));
}

/** Calls a tRPC mutation over HTTP (superjson, no batching) and returns status and parsed JSON. */
export async function trpcMutation(
  handler: RouteHandler,
  procedure: string,
  options: { token?: string; input?: unknown; rawBody?: string } = {},
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.rawBody ?? JSON.stringify({ json: options.input ?? null, ...(options.input === undefined ? { meta: { values: ["undefined"], v: 1 } } : {}) });
  const response = await sendThroughApp(handler, `/api/trpc/${procedure}`, { method: "POST", headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json: json as TrpcEnvelope };
}

export type TrpcEnvelope = {
  result?: { data: { json: unknown } };
  error?: { json: { message: string; code: number; data: { code: string; httpStatus: number; retryAfterSeconds: number | null } } };
};
