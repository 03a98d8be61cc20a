/**
 * A serverless function instance, run as a child process by serverless.test.ts:
 * the plugin's real service and webhook handler on postgres.js, behind a small HTTP server that
 * behaves like a serverless platform (Vercel, Cloudflare): each invocation may register work with
 * `waitUntil`, and once its response is sent and that work has settled, the instance is frozen.
 * Here it freezes itself (SIGSTOP) at exactly that moment, after telling the test (IPC), so the
 * test reads the database while nothing of the instance can run; the test thaws it (SIGCONT).
 *
 * Env: DATABASE_URL, CLERK_API_URL, CLERK_SECRET_KEY, CLERK_WEBHOOK_SIGNING_SECRET, and
 * FUNCTION_SCHEDULER: "waitUntil" passes `schedule: (task) => waitUntil(task())` to
 * createUserSync, "none" gives no scheduler.
 *
 * node --conditions=react-server --import tsx src/user-sync/server/test-function-instance.ts
 */
import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import type { AddressInfo } from "node:net";

import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

import { createUserSync } from "clerk-user-sync/server";

import { testSchema as schema } from "../testing";

const invocation = new AsyncLocalStorage<Promise<unknown>[]>();

/** The platform's `waitUntil`: keeps the instance alive (unfrozen) until `promise` settles. */
function waitUntil(promise: Promise<unknown>) {
  const registered = invocation.getStore();
  if (!registered) throw new Error("waitUntil was called outside an invocation");
  registered.push(promise);
}

const client = postgres(process.env.DATABASE_URL!, { max: 4, onnotice: () => undefined });
const db = drizzle({ client, schema });
const userSync = createUserSync({
  db,
  users: schema.users,
  clerk: { secretKey: process.env.CLERK_SECRET_KEY, apiUrl: process.env.CLERK_API_URL },
  cooldownSeconds: 0,
  clerkBudget: { requestsPer10s: 1000 },
  webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
  ...(process.env.FUNCTION_SCHEDULER === "waitUntil" ? { schedule: (task: () => Promise<void>) => waitUntil(task()) } : {}),
});

async function readBody(request: http.IncomingMessage) {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function invoke(request: http.IncomingMessage): Promise<Response> {
  const body = await readBody(request);
  if (request.url === "/sync") {
    const userId = String(request.headers["x-user-id"]);
    const result = await userSync.service.syncUser(userId, { sessionToken: null });
    return Response.json({ outcome: result.outcome });
  }
  if (request.url === "/webhook") {
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string") headers.set(name, value);
    return userSync.webhook.handle(new Request("http://function.test/webhook", { method: "POST", headers, body }));
  }
  return new Response("not found", { status: 404 });
}

const server = http.createServer((request, response) => {
  const registered: Promise<unknown>[] = [];
  void invocation.run(registered, async () => {
    let answer: Response;
    try {
      answer = await invoke(request);
    } catch {
      answer = new Response("failed", { status: 500 });
    }
    response.writeHead(answer.status, { "Content-Type": answer.headers.get("content-type") ?? "text/plain" });
    response.end(Buffer.from(await answer.arrayBuffer()));
    // The invocation is over once its response is out and every waitUntil promise has settled
    // (work they register while settling included); then the platform freezes the instance.
    await new Promise((resolve) => response.once("finish", resolve));
    while (registered.length) await Promise.allSettled(registered.splice(0));
    process.send?.({ type: "frozen", path: request.url }, () => process.kill(process.pid, "SIGSTOP"));
  });
});

server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "ready", port: (server.address() as AddressInfo).port });
});
