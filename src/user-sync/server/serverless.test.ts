/**
 * Serverless functions: the platform freezes an instance once its response is sent and the work
 * it registered with `waitUntil` has settled, and may never thaw it. A child process runs the
 * plugin's real service and webhook handler behind such a platform (test-function-instance.ts)
 * and freezes itself (SIGSTOP) at that moment; the test reads PostgreSQL while it is frozen.
 * With `schedule` (the host's `after`/`waitUntil`), every write the invocation counted is in
 * `user_sync_write_stats` and the inbox rows past retention are gone; without it, the counts wait
 * in the frozen process for a timer that does not run until it is thawed.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { createClerkUserDirectory, signedHeaders, userEvent } from "../testing";
import { createTestDatabase, type TestDatabase } from "./test-database";

const directory = createClerkUserDirectory();
let clerk: { url: string; close: () => Promise<void> };
let testDb: TestDatabase;
const instances: FunctionInstance[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase("serverless");
  clerk = await directory.listen();
});
beforeEach(async () => {
  directory.reset();
  await testDb.truncate();
});
afterEach(async () => {
  for (const instance of instances.splice(0)) await instance.stop();
});
afterAll(async () => {
  await clerk.close();
  await testDb.close();
});

type FunctionInstance = {
  invoke(route: "/sync" | "/webhook", init: { headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }>;
  thaw(): void;
  stop(): Promise<void>;
};

/** One function instance (a child process) with or without the platform's `waitUntil` as the plugin's scheduler. */
async function startInstance(scheduler: "waitUntil" | "none"): Promise<FunctionInstance> {
  const child: ChildProcess = fork(path.resolve("src/user-sync/server/test-function-instance.ts"), [], {
    execArgv: ["--conditions=react-server", "--import", "tsx"],
    env: {
      ...process.env,
      DATABASE_URL: testDb.url,
      CLERK_API_URL: clerk.url,
      FUNCTION_SCHEDULER: scheduler,
      NODE_ENV: "production",
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const frozen: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.on("message", (message: { type: string; port?: number; path?: string }) => {
      if (message.type === "ready") resolve(message.port!);
      if (message.type === "frozen") frozen.push(message.path!);
    });
    child.once("exit", (code) => reject(new Error(`the function instance exited (${code}): ${output.slice(-2000)}`)));
  });
  const instance: FunctionInstance = {
    /** Invokes the function and waits until the platform froze it (its process is stopped). */
    async invoke(route: "/sync" | "/webhook", init: { headers: Record<string, string>; body?: string }) {
      const response = await fetch(`http://127.0.0.1:${port}${route}`, { method: "POST", ...init });
      const body = await response.text();
      await vi.waitFor(() => expect(frozen).toContain(route), { timeout: 10_000 });
      frozen.splice(frozen.indexOf(route), 1);
      await vi.waitFor(() => expect(processState(child.pid!)).toBe("T"), { timeout: 5_000 });
      return { status: response.status, body };
    },
    thaw() {
      child.kill("SIGCONT");
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
  instances.push(instance);
  return instance;
}

/** `R` running, `S` sleeping, `T` stopped (Linux's /proc/<pid>/stat). */
function processState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

const ada = { id: "user_frozen_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_700_000_100_000 };

/** 50 processed deliveries received 40 days ago: past the default 30-day retention. */
async function seedExpiredInbox() {
  await testDb.client`
    insert into clerk_webhook_events (svix_id, event_type, outcome, received_at, processed_at)
    select 'msg_expired_' || i, 'user.updated', 'updated', now() - interval '40 days', now() - interval '40 days'
    from generate_series(1, 50) as i`;
}

const dueInboxRows = async () =>
  (await testDb.client<{ n: number }[]>`select count(*)::int as n from clerk_webhook_events where received_at < now() - interval '30 days'`)[0]?.n;

const writeCounts = async () =>
  testDb.client<{ source: string; outcome: string; count: number }[]>`
    select source, outcome, sum(count)::int as count from user_sync_write_stats group by 1, 2 order by 1, 2`;

function signedDelivery(svixId: string) {
  const body = JSON.stringify(userEvent("user.created", ada));
  return { headers: signedHeaders(body, { svixId }), body };
}

describe("a serverless function frozen once its response and its waitUntil work are done", () => {
  it("with schedule (the platform's waitUntil): every count is written and the due inbox rows are pruned before the freeze", async () => {
    await seedExpiredInbox();
    directory.add(ada);
    const instance = await startInstance("waitUntil");

    const delivered = await instance.invoke("/webhook", signedDelivery("msg_frozen_1"));
    expect(delivered).toEqual({ status: 200, body: JSON.stringify({ outcome: "created" }) });
    // Read while the instance is frozen: nothing of it runs now.
    expect(await writeCounts()).toEqual([{ source: "webhook", outcome: "created", count: 1 }]);
    expect(await dueInboxRows()).toBe(0);

    instance.thaw();
    const synced = await instance.invoke("/sync", { headers: { "x-user-id": ada.id } });
    expect(synced.status).toBe(200);
    expect(await writeCounts()).toEqual([
      { source: "client-sync", outcome: "unchanged", count: 1 },
      { source: "webhook", outcome: "created", count: 1 },
    ]);
    instance.thaw();
  });

  it("without schedule, its counts wait in the frozen process: none is written until it is thawed", async () => {
    directory.add(ada);
    const instance = await startInstance("none");
    const delivered = await instance.invoke("/webhook", signedDelivery("msg_frozen_2"));
    expect(delivered.status).toBe(200);
    expect(await testDb.client`select id from users`).toEqual([{ id: ada.id }]);
    expect(await writeCounts()).toEqual([]);
    // Thawed, the flush interval's timer (5 s) writes them.
    instance.thaw();
    await vi.waitFor(async () => expect(await writeCounts()).toEqual([{ source: "webhook", outcome: "created", count: 1 }]), { timeout: 15_000, interval: 250 });
  });
});
