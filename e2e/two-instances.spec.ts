/**
 * Two more app instances from the same production build, on the same database, beside the e2e
 * app: the user.sync cooldown lives in PostgreSQL (user_sync_clerk_fetches), so it holds across
 * processes, and concurrent syncs split across instances stay within one Clerk call each.
 * No browser: session tokens come from the emulator's control API; Clerk calls are counted by
 * the emulator.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

import { e2eAppEnv } from "./support/app-env";
import { expect, test } from "./support/fixtures";
import { appPort } from "./support/settings";

// Ports of their own, derived from the e2e app's so parallel runs with other E2E_APP_PORTs do not collide.
const instancePorts = (process.env.E2E_EXTRA_APP_PORTS ?? `${appPort + 2000},${appPort + 2001}`).split(",").map(Number);
const cooldownSeconds = 30;

type Instance = { url: string; process: ChildProcess; output: string[] };
const instances: Instance[] = [];

async function waitUntilServing(instance: Instance, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (instance.process.exitCode !== null) throw new Error(`next start exited: ${instance.output.join("").slice(-2000)}`);
    try {
      // Loads the tRPC route and the plugin: the timed requests below do not pay for it.
      const response = await fetch(`${instance.url}/api/trpc/user.me`);
      if (response.status === 401) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${instance.url} did not start: ${instance.output.join("").slice(-2000)}`);
}

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  for (const port of instancePorts) {
    const child = spawn(process.execPath, [path.resolve("node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
      env: { ...process.env, ...e2eAppEnv({ PORT: String(port), USER_SYNC_COOLDOWN_SECONDS: String(cooldownSeconds) }) },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so afterAll ends exactly what it started.
      detached: true,
    });
    const instance: Instance = { url: `http://localhost:${port}`, process: child, output: [] };
    child.stdout?.on("data", (chunk: Buffer) => instance.output.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => instance.output.push(chunk.toString()));
    instances.push(instance);
  }
  await Promise.all(instances.map((instance) => waitUntilServing(instance, 120_000)));
});

test.afterAll(() => {
  for (const instance of instances) {
    if (instance.process.pid !== undefined && instance.process.exitCode === null) process.kill(-instance.process.pid, "SIGTERM");
  }
});

/** user.sync over HTTP with the session's token, as the tRPC client sends it. */
async function syncOn(instance: Instance, token: string) {
  const response = await fetch(`${instance.url}/api/trpc/user.sync`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ json: null, meta: { values: ["undefined"], v: 1 } }),
  });
  const body = (await response.json()) as { result?: { data: { json: { outcome: string } } } };
  return { status: response.status, outcome: body.result?.data.json.outcome };
}

test("20 concurrent syncs of one user split across two instances make at most 2 Clerk calls", async ({ emulator, db }) => {
  await emulator.setWebhooks({ drop: true });
  const user = await emulator.createUser({ email: "split@example.com", firstName: "Split", lastName: "Twice" });
  const { token } = await emulator.createSession(user.id);
  await emulator.resetCounters();

  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => syncOn(instances[i % 2]!, token)));
  const getUserCalls = await emulator.count("getUser");
  console.log(`[two instances] 20 concurrent syncs of one user (10 per instance): ${getUserCalls} Clerk getUser call(s)`);
  expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect(getUserCalls).toBeGreaterThanOrEqual(1);
  expect(getUserCalls).toBeLessThanOrEqual(2);
  expect(await db.userRow(user.id)).toMatchObject({ email: "split@example.com", deleted_at: null });
});

test("a sync on instance B within the cooldown after one on instance A makes no Clerk call", async ({ emulator, db }) => {
  await emulator.setWebhooks({ drop: true });
  const user = await emulator.createUser({ email: "cooldown@example.com", firstName: "Cool", lastName: "Down" });
  const { token } = await emulator.createSession(user.id);
  await emulator.resetCounters();

  const [a, b] = instances;
  expect(await syncOn(a!, token)).toEqual({ status: 200, outcome: "created" });
  expect(await emulator.count("getUser")).toBe(1);
  const onB = await syncOn(b!, token);
  const getUserCalls = await emulator.count("getUser");
  console.log(`[two instances] sync on A, then on B within ${cooldownSeconds} s: ${getUserCalls - 1} Clerk call(s) from B (outcome ${onB.outcome})`);
  expect(onB).toEqual({ status: 200, outcome: "unchanged" });
  expect(getUserCalls).toBe(1);
  // The cooldown's state is A's claim of the fetch in PostgreSQL, which B found.
  const [claim] = await db.sql<{ claimed: boolean }[]>`select count(*) = 1 as claimed from user_sync_clerk_fetches where user_id = ${user.id}`;
  expect(claim?.claimed).toBe(true);
});
