import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export type Request = IncomingMessage & { url: string; method: string };

export type Handler<C> = (args: { req: Request; res: ServerResponse; url: URL; params: Record<string, string>; ctx: C }) => Promise<void> | void;

type Route<C> = { method: string; pattern: RegExp; keys: string[]; handler: Handler<C> };

/** Minimal path router: `"/v1/users/:id"` patterns, first match wins (register specific paths first). */
export class Router<C> {
  private readonly routes: Route<C>[] = [];

  on(method: string, path: string, handler: Handler<C>) {
    const keys: string[] = [];
    const source = path.replace(/:(\w+)/g, (_, key: string) => {
      keys.push(key);
      return "([^/]+)";
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), keys, handler });
    return this;
  }

  match(method: string, pathname: string) {
    for (const route of this.routes) {
      if (route.method !== method && route.method !== "*") continue;
      const found = route.pattern.exec(pathname);
      if (!found) continue;
      const params = Object.fromEntries(route.keys.map((key, i) => [key, decodeURIComponent(found[i + 1]!)]));
      return { handler: route.handler, params };
    }
    return null;
  }

  /** Whether any method matches the path (for 405 vs 404, and CORS preflights). */
  hasPath(pathname: string) {
    return this.routes.some((route) => route.pattern.test(pathname));
  }
}

export async function readBody(req: IncomingMessage, limitBytes = 10 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new HttpError(413, "payload_too_large", "Body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON or form-encoded body as a flat object (form values are strings). */
export async function readFields(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString("utf8");
  if (!raw) return {};
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json")) {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "form_param_format_invalid", "Expected a JSON object");
    return parsed as Record<string, unknown>;
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** The request parameter at fault: Clerk's `meta.param_name`. */
    readonly paramName?: string,
    /** Clerk's `long_message` when it says more than `message`. */
    readonly longMessage?: string,
  ) {
    super(message);
  }
}

/** `Content-Type` is exactly `application/json`: Clerk's SDK compares it with `===`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Clerk's error shape: `{ errors: [{ code, message, long_message, meta }], clerk_trace_id }`. */
export function sendClerkError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  paramName?: string,
  longMessage = message,
) {
  const meta = paramName ? { param_name: paramName } : {};
  sendJson(res, status, { errors: [{ code, message, long_message: longMessage, meta }], clerk_trace_id: randomBytes(16).toString("hex") }, headers);
}

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...headers, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string, status = 303, headers: Record<string, string | string[]> = {}) {
  res.writeHead(status, { ...headers, Location: location, "Cache-Control": "no-store" });
  res.end();
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    // The first occurrence wins, as in the server SDK's parser.
    if (name && !(name in cookies)) cookies[name] = decodeURIComponent(part.slice(index + 1).trim());
  }
  return cookies;
}

export type Cookie = { name: string; value: string; maxAgeSeconds: number; httpOnly?: boolean };

/** Host-only cookies on the emulator's host, path `/`: shared with an app on another port of the same host. */
export function serializeCookie(cookie: Cookie) {
  const parts = [`${cookie.name}=${encodeURIComponent(cookie.value)}`, "Path=/", "SameSite=Lax", `Max-Age=${cookie.maxAgeSeconds}`];
  if (cookie.httpOnly) parts.push("HttpOnly");
  return parts.join("; ");
}

export function escapeHtml(value: string | number | null | undefined) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
