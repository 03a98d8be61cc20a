import path from "node:path";

import { getPagesPageStaticInfo } from "next/dist/build/analysis/get-page-static-info";
import { loadBindings } from "next/dist/build/swc";
import { getMiddlewareRouteMatcher, type MiddlewareRouteMatch } from "next/dist/shared/lib/router/utils/middleware-route-matcher";
import { NextRequest, type NextFetchEvent } from "next/server";

import { requestScope } from "#test/request-scope";

const appOrigin = "http://localhost:3000";

type RouteHandler = (req: NextRequest) => Promise<Response>;

/** Runs the app's real `src/proxy.ts` (clerkMiddleware) on a request, as Next's router would. */
export async function runProxy(request: NextRequest) {
  const { default: proxy } = await import("~/proxy");
  const event = { waitUntil: () => undefined, passThroughOnException: () => undefined } as unknown as NextFetchEvent;
  return proxy(request, event);
}

let proxyMatcher: Promise<MiddlewareRouteMatch> | undefined;

/**
 * Whether Next runs `src/proxy.ts` for `pathname`: its `config.matcher` read from the source
 * and compiled by Next's own build code, exactly as `next build` does (a matcher Next cannot
 * read statically would match everything here too).
 */
export async function proxyMatches(pathname: string): Promise<boolean> {
  proxyMatcher ??= (async () => {
    await loadBindings();
    const info = await getPagesPageStaticInfo({
      pageFilePath: path.resolve(import.meta.dirname, "../proxy.ts"),
      nextConfig: {},
      isDev: false,
      page: "/proxy",
      pageType: "root" as Parameters<typeof getPagesPageStaticInfo>[0]["pageType"],
    });
    // No matcher: Next runs the proxy for every path.
    return info.middleware?.matchers ? getMiddlewareRouteMatcher(info.middleware.matchers) : () => true;
  })();
  const match = await proxyMatcher;
  return match(pathname, { headers: {} } as unknown as Parameters<MiddlewareRouteMatch>[1], {});
}

/**
 * Sends a request through the app as Next would: the real `src/proxy.ts` (clerkMiddleware)
 * first when its matcher covers the path, then the route handler with the request headers the
 * middleware forwarded.
 */
export async function sendThroughApp(
  handler: RouteHandler,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  const url = new URL(path, appOrigin);
  if (!(await proxyMatches(url.pathname))) {
    const request = new NextRequest(url, { method: init.method ?? "GET", headers: init.headers, body: init.body });
    return requestScope.run(new Headers(init.headers), () => handler(request));
  }
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
