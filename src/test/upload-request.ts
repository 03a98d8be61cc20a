import { NextRequest } from "next/server";

import { proxyMatches, runProxy, type TrpcEnvelope } from "./next-app";
import { requestScope } from "#test/request-scope";

type RouteHandler = (req: NextRequest) => Promise<Response>;

/**
 * A tRPC mutation with a raw `application/octet-stream` body (what `httpLink` sends for a Blob),
 * through the real `src/proxy.ts` when its matcher covers the path, and then the route handler,
 * as in `sendThroughApp`. The body may be a stream, so tests can count how much of it the server
 * pulled.
 */
export async function trpcUpload(
  handler: RouteHandler,
  procedure: string,
  options: { token?: string; body: Uint8Array | ReadableStream<Uint8Array>; contentLength?: number | null },
) {
  const url = new URL(`/api/trpc/${procedure}`, "http://localhost:3000");
  const headers = new Headers({ "content-type": "application/octet-stream" });
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  const length = options.contentLength === undefined ? (options.body instanceof Uint8Array ? options.body.byteLength : null) : options.contentLength;
  if (length !== null) headers.set("content-length", String(length));
  // The middleware sees the headers; the body goes to the route handler only (read once).
  const middlewareResponse = (await proxyMatches(url.pathname)) ? await runProxy(new NextRequest(url, { method: "POST", headers })) : null;
  const forwarded = new Headers(headers);
  const overridden = middlewareResponse?.headers.get("x-middleware-override-headers");
  for (const name of overridden?.split(",") ?? []) {
    const value = middlewareResponse?.headers.get(`x-middleware-request-${name}`);
    if (value === null || value === undefined) forwarded.delete(name);
    else forwarded.set(name, value);
  }
  // A stream body needs `duplex: "half"` (undici), which Next's RequestInit type does not list.
  const init = { method: "POST", headers: forwarded, body: options.body as BodyInit, duplex: "half" };
  const routed = new NextRequest(url, init as ConstructorParameters<typeof NextRequest>[1]);
  const response = await requestScope.run(forwarded, () => handler(routed));
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json: json as TrpcEnvelope };
}

/** A stream of `totalBytes` that starts with `head`, recording how many bytes the reader pulled. */
export function countingStream(head: Uint8Array, totalBytes: number, chunkBytes = 64 * 1024) {
  let sent = 0;
  const counter = { pulledBytes: 0, cancelled: false };
  // highWaterMark 0: nothing is pulled until a reader asks.
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= totalBytes) return controller.close();
      const size = Math.min(chunkBytes, totalBytes - sent);
      const chunk = new Uint8Array(size);
      if (sent < head.byteLength) chunk.set(head.subarray(sent, sent + size));
      sent += size;
      counter.pulledBytes = sent;
      controller.enqueue(chunk);
    },
    cancel() {
      counter.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, counter };
}
