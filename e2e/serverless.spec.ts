/**
 * The app as a serverless function: the e2e build behind a server that behaves like Vercel's
 * Node.js runtime (e2e/support/serverless-server.ts: Next's `after()` runs on the platform's
 * `waitUntil`, and the instance is frozen — SIGSTOP — once a response is sent and that work has
 * settled). Read while it is frozen, PostgreSQL already holds every write count of the
 * invocation and no inbox row past retention: the host hands the plugin's background work to
 * `after()`. Port E2E_APP_PORT + 31, the e2e database. No browser.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { Webhook } from "standardwebhooks";

import { e2eAppEnv } from "./support/app-env";
import { expect, test } from "./support/fixtures";
import { appPort } from "./support/settings";

const port = Number(process.env.E2E_SERVERLESS_APP_PORT ?? appPort + 31);
const origin = `http://127.0.0.1:${port}`;
const appEnv = e2eAppEnv({ PORT: String(port) });

let child: ChildProcess | null = null;
const frozen: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  child = fork(path.resolve("e2e/support/serverless-server.ts"), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...appEnv, NODE_ENV: "production", SERVERLESS_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child!.on("message", (message: { type: string; path?: string }) => {
      if (message.type === "ready") resolve();
      if (message.type === "frozen") frozen.push(message.path ?? "");
    });
    child!.once("exit", (code) => reject(new Error(`the serverless server exited (${code}): ${output.slice(-2000)}`)));
  });
});

test.afterAll(async () => {
  const running = child;
  if (running?.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once("exit", resolve));
  running.kill("SIGKILL");
  await exited;
});

/** `T` when the process is stopped (Linux's /proc/<pid>/stat). */
function processState(pid: number) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** Waits until the invocation of `route` ended and the platform froze the instance. */
async function waitUntilFrozen(route: string) {
  await expect.poll(() => frozen.includes(route), { timeout: 15_000 }).toBe(true);
  frozen.splice(frozen.indexOf(route), 1);
  await expect.poll(() => processState(child!.pid!), { timeout: 5_000 }).toBe("T");
}

test("a function frozen once its response and after() work are done has written every count and pruned the inbox", async ({ emulator, db }) => {
  test.setTimeout(90_000);
  await emulator.setWebhooks({ drop: true });
  await db.sql`
    insert into clerk_webhook_events (svix_id, event_type, outcome, received_at, processed_at)
    select 'msg_expired_' || i, 'user.updated', 'updated', now() - interval '40 days', now() - interval '40 days' from generate_series(1, 50) as i`;
  const user = await emulator.createUser({ email: "frozen@example.com", firstName: "Frozen", lastName: "Function" });

  // A signed delivery of the user's creation, as Svix sends it.
  const svixId = "msg_serverless_created";
  const body = JSON.stringify({ type: "user.created", object: "event", data: user, timestamp: Date.now(), instance_id: appEnv.CLERK_INSTANCE_ID });
  const at = new Date();
  const signature = new Webhook(appEnv.CLERK_WEBHOOK_SIGNING_SECRET!).sign(svixId, at, body);
  const delivered = await fetch(`${origin}/api/webhooks/clerk`, {
    method: "POST",
    headers: { "content-type": "application/json", "svix-id": svixId, "svix-timestamp": String(Math.floor(at.getTime() / 1000)), "svix-signature": signature },
    body,
  });
  expect(delivered.status).toBe(200);
  await waitUntilFrozen("/api/webhooks/clerk");
  // Frozen: nothing of the function runs while this is read.
  expect(await db.sql`select source, outcome, sum(count)::int as count from user_sync_write_stats group by 1, 2`).toEqual([
    { source: "webhook", outcome: "created", count: 1 },
  ]);
  expect((await db.sql`select count(*)::int as n from clerk_webhook_events where received_at < now() - interval '30 days'`)[0]?.n).toBe(0);
  child!.kill("SIGCONT");

  const { token } = await emulator.createSession(user.id);
  const synced = await fetch(`${origin}/api/trpc/user.sync`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ json: null, meta: { values: ["undefined"], v: 1 } }),
  });
  expect(synced.status).toBe(200);
  await waitUntilFrozen("/api/trpc/user.sync");
  // The sign-in moved Clerk's clock or not: one client-sync write either way.
  expect(await db.sql`select source, sum(count)::int as count from user_sync_write_stats group by 1 order by 1`).toEqual([
    { source: "client-sync", count: 1 },
    { source: "webhook", count: 1 },
  ]);
  child!.kill("SIGCONT");
});
