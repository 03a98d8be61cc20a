/**
 * The benchmark's bare floor: the least a plain `node:http` server needs to do the product's two
 * jobs, on the same machine, database and Clerk stand-in, so `npm run bench` can show what the
 * product costs on top of the work itself.
 *
 * - `POST /sync` (P3, beside `user.sync`): verify the RS256 session token in `Authorization:
 *   Bearer` with `jose`, one `GET /v1/users/:id` to the Backend API, the plugin's own guarded
 *   upsert (`upsertClerkUser`, "fetched") through drizzle on postgres.js.
 * - `POST /webhook` (P5, beside `/api/webhooks/clerk`): verify with `standardwebhooks`, then the
 *   same upsert ("pushed") and the inbox row in one transaction.
 *
 * Settings (env): BENCH_FLOOR_PORT, DATABASE_URL, CLERK_API_URL, CLERK_SECRET_KEY, CLERK_JWT_KEY,
 * CLERK_WEBHOOK_SIGNING_SECRET. Prints "listening" when ready; stops on SIGTERM.
 */
import http from "node:http";

import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { importSPKI, jwtVerify } from "jose";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";

import * as schema from "~/server/db/schema";
import { clerkWebhookEvents } from "clerk-user-sync/schema";
import { snapshotFromUserJson, syncedTableOf, upsertClerkUser } from "clerk-user-sync/server/advanced";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bare floor: ${name} is not set`);
  return value;
}

const port = Number(process.env.BENCH_FLOOR_PORT ?? 3421);
const apiUrl = required("CLERK_API_URL");
const secretKey = required("CLERK_SECRET_KEY");
const publicKey = await importSPKI(required("CLERK_JWT_KEY"), "RS256");
const verifier = new Webhook(required("CLERK_WEBHOOK_SIGNING_SECRET"));
// The app's pool size (src/server/db/index.ts), so the floor is not faster by having more connections.
const client = postgres(required("DATABASE_URL"), { max: 10, onnotice: () => undefined });
const db = drizzle({ client, schema });
const table = syncedTableOf(schema.users);

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function sync(req: http.IncomingMessage, res: http.ServerResponse) {
  const token = req.headers.authorization?.replace(/^Bearer /, "");
  if (!token) return send(res, 401, { error: "unauthorized" });
  let userId: string;
  try {
    const { payload } = await jwtVerify(token, publicKey, { algorithms: ["RS256"] });
    if (typeof payload.sub !== "string") return send(res, 401, { error: "unauthorized" });
    userId = payload.sub;
  } catch {
    return send(res, 401, { error: "unauthorized" });
  }
  const response = await fetch(`${apiUrl}/v1/users/${encodeURIComponent(userId)}`, { headers: { authorization: `Bearer ${secretKey}` } });
  if (!response.ok) return send(res, 502, { error: `clerk_${response.status}` });
  const snapshot = snapshotFromUserJson(await response.json());
  const { outcome, row } = await upsertClerkUser(db, table, snapshot, "fetched");
  send(res, 200, { outcome, user: row });
}

async function webhook(req: http.IncomingMessage, res: http.ServerResponse) {
  const body = await readBody(req);
  const header = (name: string) => String(req.headers[name] ?? "");
  try {
    verifier.verify(body, { "webhook-id": header("svix-id"), "webhook-timestamp": header("svix-timestamp"), "webhook-signature": header("svix-signature") });
  } catch {
    return send(res, 400, { error: "invalid_signature" });
  }
  const envelope = JSON.parse(body) as { type: string; timestamp: number; data: unknown };
  const snapshot = snapshotFromUserJson(envelope.data);
  const outcome = await db.transaction(async (tx) => {
    const { outcome: written } = await upsertClerkUser(tx, table, snapshot);
    await tx
      .insert(clerkWebhookEvents)
      .values({
        svixId: header("svix-id"),
        eventType: envelope.type,
        clerkUserId: snapshot.id,
        eventTimestampMs: envelope.timestamp,
        outcome: written,
        receivedAt: new Date(),
        processedAt: sql`clock_timestamp()`,
      })
      .onConflictDoNothing({ target: clerkWebhookEvents.svixId });
    return written;
  });
  send(res, 200, { outcome });
}

const server = http.createServer((req, res) => {
  const route = req.method === "POST" && req.url === "/sync" ? sync : req.method === "POST" && req.url === "/webhook" ? webhook : null;
  if (!route) return send(res, 404, { error: "not_found" });
  route(req, res).catch((error: unknown) => {
    // The cause's SQLSTATE and message only: drizzle's own message carries the query's parameters (PII).
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(`bare floor: ${req.url} failed: ${cause?.code ?? ""} ${cause?.message ?? (error instanceof Error ? error.name : "error")}\n`);
    if (!res.headersSent) send(res, 500, { error: "internal" });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, () => process.stdout.write(`listening on ${port}\n`));
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void client.end({ timeout: 2 }).then(() => process.exit(0));
});
