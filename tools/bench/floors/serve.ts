/**
 * What both floors share: their settings from env, the request body, JSON answers, and a
 * `node:http` server with two POST routes that prints "listening" when ready and stops on SIGTERM.
 */
import http from "node:http";

import { importSPKI, jwtVerify } from "jose";
import { Webhook } from "standardwebhooks";

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export type FloorSettings = Awaited<ReturnType<typeof floorSettings>>;

/** DATABASE_URL, CLERK_API_URL, CLERK_SECRET_KEY, CLERK_JWT_KEY, CLERK_WEBHOOK_SIGNING_SECRET. */
export async function floorSettings(floor: string) {
  const required = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${floor}: ${name} is not set`);
    return value;
  };
  return {
    databaseUrl: required("DATABASE_URL"),
    apiUrl: required("CLERK_API_URL"),
    secretKey: required("CLERK_SECRET_KEY"),
    publicKey: await importSPKI(required("CLERK_JWT_KEY"), "RS256"),
    verifier: new Webhook(required("CLERK_WEBHOOK_SIGNING_SECRET")),
  };
}

/**
 * The RS256 session token in `Authorization: Bearer` verified with `jose` (nothing else), then
 * one `GET /v1/users/:id`: the user's JSON, or null once a 401 or 502 has been sent.
 */
export async function fetchSignedInUser(req: http.IncomingMessage, res: http.ServerResponse, settings: FloorSettings): Promise<unknown> {
  const token = req.headers.authorization?.replace(/^Bearer /, "");
  let userId: unknown;
  try {
    userId = token ? (await jwtVerify(token, settings.publicKey, { algorithms: ["RS256"] })).payload.sub : undefined;
  } catch {
    userId = undefined;
  }
  if (typeof userId !== "string") {
    send(res, 401, { error: "unauthorized" });
    return null;
  }
  const response = await fetch(`${settings.apiUrl}/v1/users/${encodeURIComponent(userId)}`, { headers: { authorization: `Bearer ${settings.secretKey}` } });
  if (!response.ok) {
    send(res, 502, { error: `clerk_${response.status}` });
    return null;
  }
  return response.json();
}

export type Delivery = { svixId: string; type: string; timestamp: number; data: unknown };

/** A Svix delivery whose signature verifies (`standardwebhooks`), or null once a 400 has been sent. */
export async function verifiedDelivery(req: http.IncomingMessage, res: http.ServerResponse, settings: FloorSettings): Promise<Delivery | null> {
  const body = await readBody(req);
  const header = (name: string) => String(req.headers[name] ?? "");
  try {
    settings.verifier.verify(body, { "webhook-id": header("svix-id"), "webhook-timestamp": header("svix-timestamp"), "webhook-signature": header("svix-signature") });
  } catch {
    send(res, 400, { error: "invalid_signature" });
    return null;
  }
  const envelope = JSON.parse(body) as Omit<Delivery, "svixId">;
  return { svixId: header("svix-id"), type: envelope.type, timestamp: envelope.timestamp, data: envelope.data };
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Serves `POST /sync` and `POST /webhook` on `port`. A route that throws answers 500 and logs
 * what `describe` makes of the error (never a query's parameters: PII); `close` ends the pool.
 */
export function serveFloor(options: {
  floor: string;
  port: number;
  sync: Route;
  webhook: Route;
  describe: (error: unknown) => string;
  close: () => Promise<void>;
}) {
  const server = http.createServer((req, res) => {
    const route = req.method === "POST" && req.url === "/sync" ? options.sync : req.method === "POST" && req.url === "/webhook" ? options.webhook : null;
    if (!route) return send(res, 404, { error: "not_found" });
    route(req, res).catch((error: unknown) => {
      process.stderr.write(`${options.floor}: ${req.url} failed: ${options.describe(error)}\n`);
      if (!res.headersSent) send(res, 500, { error: "internal" });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(options.port, () => process.stdout.write(`listening on ${options.port}\n`));
  process.once("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    void options.close().then(() => process.exit(0));
  });
}
