/**
 * Clerk's user count with the production cache period (60 s, `USER_SYNC_CLERK_COUNT_CACHE_SECONDS`):
 * the e2e app asks Clerk on every check (0), so a second instance from the same build runs with
 * the default. Within the period the health view reuses the count it read; once a reconciliation
 * finishes it reads it again, so "Last reconcile: N found" never sits beside an older count.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

import { e2eAppEnv } from "./support/app-env";
import { expect, test } from "./support/fixtures";
import { adminApiKey, appPort } from "./support/settings";

const port = Number(process.env.E2E_COUNT_CACHE_APP_PORT ?? appPort + 2002);
const origin = `http://localhost:${port}`;
const adminHeaders = { authorization: `Bearer ${adminApiKey}` };
let instance: ChildProcess | null = null;
const output: string[] = [];

type Health = {
  clerkUsers: number | null;
  clerkUsersReadAt: string | null;
  liveUsers: number;
  discrepancy: number | null;
  lastReconcile: { runId: string; finishedAt: string; counts: { missing: number; stale: number; deleted: number } } | null;
};

test.beforeAll(async () => {
  test.setTimeout(180_000);
  instance = spawn(process.execPath, [path.resolve("node_modules/next/dist/bin/next"), "start", "-p", String(port)], {
    env: { ...process.env, ...e2eAppEnv({ PORT: String(port), USER_SYNC_CLERK_COUNT_CACHE_SECONDS: "60" }) },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so afterAll ends exactly what it started.
    detached: true,
  });
  instance.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  instance.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (instance.exitCode !== null) throw new Error(`next start exited: ${output.join("").slice(-2000)}`);
    try {
      if ((await fetch(`${origin}/api/trpc/user.me`)).status === 401) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${origin} did not start: ${output.join("").slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});

test.afterAll(() => {
  if (instance?.pid !== undefined && instance.exitCode === null) process.kill(-instance.pid, "SIGTERM");
});

test("Clerk's cached count is read again as soon as a reconciliation finishes: right after a bulk import and a dry run, the count, the discrepancy and \"N found\" agree", async ({ request, emulator, db }) => {
  const health = async () => {
    const response = await request.get(`${origin}/api/admin/user-sync/health`, { headers: adminHeaders });
    expect(response.status()).toBe(200);
    return (await response.json()) as Health;
  };
  const clerkBefore = (await emulator.users({ limit: 500 })).length;
  const first = await health();
  expect(first.clerkUsers).toBe(clerkBefore);
  const countCalls = await emulator.count("getCount");

  // A bulk import in Clerk: within the period the count is reused (no Clerk call), with its time.
  const { totalCount } = await emulator.createUsersInBulk(1_000, "bulk");
  const cached = await health();
  expect(cached).toMatchObject({ clerkUsers: clerkBefore, clerkUsersReadAt: first.clerkUsersReadAt });
  expect(await emulator.count("getCount")).toBe(countCalls);

  // A dry run through the admin API; the next check reads Clerk's count again.
  const dry = await request.post(`${origin}/api/admin/user-sync/reconcile`, { headers: adminHeaders });
  expect(dry.status()).toBe(200);
  const after = await health();
  const [{ live }] = await db.sql<[{ live: number }]>`select count(*)::int as live from users where deleted_at is null`;
  expect(after.lastReconcile?.counts.missing).toBe(totalCount - live);
  expect(after).toMatchObject({ clerkUsers: totalCount, liveUsers: live, discrepancy: totalCount - live });
  expect(Date.parse(after.clerkUsersReadAt!)).toBeGreaterThanOrEqual(Date.parse(after.lastReconcile!.finishedAt));
  console.log(
    `[count-after-reconcile] before ${clerkBefore}, cached after the import ${cached.clerkUsers}, after the dry run ${after.clerkUsers} ` +
      `(found ${after.lastReconcile!.counts.missing} missing, discrepancy ${after.discrepancy})`,
  );
});
