/**
 * The app behind a transaction pooler, as Supabase's pooler, Neon's `-pooler` host or PgBouncer
 * in front of RDS serve it: PgBouncer 1.18 in pool_mode=transaction (the installed binary, on a
 * free port, stopped at the end) in front of the e2e database, and one more `next start` of the
 * e2e build (port E2E_APP_PORT + 30) with DATABASE_URL pointing at PgBouncer and
 * DATABASE_POOL_MODE=transaction. Its whole HTTP surface answers through the pooler (user.sync,
 * user.me, the webhook, the admin health and reconcile endpoints), and a SIGTERM while a sync is in
 * flight lets it finish and writes its counts before the process exits. No browser.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

import { e2eAppEnv } from "./support/app-env";
import { expect, test } from "./support/fixtures";
import { adminApiKey, appPort, databaseUrl } from "./support/settings";
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer } from "#test/pgbouncer";

const pooledPort = Number(process.env.E2E_POOLED_APP_PORT ?? appPort + 30);
const pooledUrl = `http://localhost:${pooledPort}`;
const adminHeaders = { authorization: `Bearer ${adminApiKey}` };

type Instance = { process: ChildProcess; output: string[]; exited: Promise<number | null> };
let pgBouncer: PgBouncer | null = null;
let instance: Instance | null = null;

const unavailable = pgBouncerUnavailable();

test.describe.configure({ mode: "serial" });
test.skip(unavailable !== null, unavailable ?? "");

async function startPooledApp(): Promise<Instance> {
  if (!pgBouncer) throw new Error("PgBouncer is not running");
  const child = spawn(process.execPath, [path.resolve("node_modules/next/dist/bin/next"), "start", "-p", String(pooledPort)], {
    env: {
      ...process.env,
      ...e2eAppEnv({
        PORT: String(pooledPort),
        DATABASE_URL: pgBouncer.url(new URL(databaseUrl).pathname.slice(1)),
        DATABASE_POOL_MODE: "transaction",
      }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const started: Instance = {
    process: child,
    output: [],
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : null)))),
  };
  child.stdout?.on("data", (chunk: Buffer) => started.output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => started.output.push(chunk.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited: ${started.output.join("").slice(-2000)}`);
    try {
      // Loads the tRPC route and the plugin.
      if ((await fetch(`${pooledUrl}/api/trpc/user.me`)).status === 401) return started;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${pooledUrl} did not start: ${started.output.join("").slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  pgBouncer = await startPgBouncer({ upstreamUrl: databaseUrl, poolMode: "transaction", poolSize: 3 });
  instance = await startPooledApp();
});

test.afterAll(async () => {
  if (instance?.process.exitCode === null) {
    instance.process.kill("SIGKILL");
    await instance.exited;
  }
  await pgBouncer?.stop();
});

async function trpc(procedure: "user.sync" | "user.me", token: string) {
  const response =
    procedure === "user.sync"
      ? await fetch(`${pooledUrl}/api/trpc/user.sync`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ json: null, meta: { values: ["undefined"], v: 1 } }),
        })
      : await fetch(`${pooledUrl}/api/trpc/user.me`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { result?: { data: { json: { outcome?: string; user?: { id: string }; id?: string } | null } } };
  return { status: response.status, data: body.result?.data.json ?? null };
}

test("through PgBouncer in transaction mode: user.sync, user.me, the webhook, admin health and reconcile", async ({ emulator, db }) => {
  test.setTimeout(120_000);
  await emulator.setWebhooks({ url: `${pooledUrl}/api/webhooks/clerk` });
  const people = await Promise.all(
    Array.from({ length: 6 }, (_, i) => emulator.createUser({ email: `pooled${i}@example.com`, firstName: `Pooled${i}`, lastName: "Through" })),
  );
  const sessions = await Promise.all(people.map((person) => emulator.createSession(person.id)));
  // The creations' webhooks arrive first (through the pooler too).
  expect((await emulator.webhooksIdle()).every((delivery) => delivery.status === "delivered")).toBe(true);

  // More syncs at once than PgBouncer has server connections (3).
  const synced = await Promise.all(sessions.map((session) => trpc("user.sync", session.token)));
  expect(synced.map((r) => r.status)).toEqual(Array(6).fill(200));
  const me = await trpc("user.me", sessions[0]!.token);
  expect(me).toMatchObject({ status: 200, data: { id: people[0]!.id } });

  await emulator.updateUser(people[1]!.id, { firstName: "Renamed" });
  const deliveries = await emulator.webhooksIdle();
  expect(deliveries.filter((d) => d.userId === people[1]!.id).map((d) => d.status)).not.toContain("failed");
  expect(await db.userRow(people[1]!.id)).toMatchObject({ first_name: "Renamed" });

  const health = await fetch(`${pooledUrl}/api/admin/user-sync/health`, { headers: adminHeaders });
  expect(health.status).toBe(200);
  const report = (await health.json()) as { liveUsers: number; deadLetters: number };
  expect(report).toMatchObject({ liveUsers: 6, deadLetters: 0 });

  for (const dryRun of ["true", "false"]) {
    const reconcile = await fetch(`${pooledUrl}/api/admin/user-sync/reconcile?dry_run=${dryRun}&mode=full`, { method: "POST", headers: adminHeaders });
    expect(reconcile.status).toBe(200);
    expect(((await reconcile.json()) as { dryRun: boolean }).dryRun).toBe(dryRun === "true");
  }
  // The seeded demo users were missing from the mirror: the apply run wrote them.
  expect((await db.sql`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe((await emulator.users({ limit: 500 })).length);
  // Nothing the pooler refuses: no startup parameter, no prepared statement.
  expect(pgBouncer!.log()).not.toMatch(/unsupported startup parameter|prepared statement/i);
});

test("a SIGTERMed next start finishes the sync in flight and writes every count before it exits", async ({ emulator, db }) => {
  test.setTimeout(120_000);
  await emulator.setWebhooks({ drop: true });
  const [done, inFlight] = await Promise.all([
    emulator.createUser({ email: "before-term@example.com", firstName: "Before", lastName: "Term" }),
    emulator.createUser({ email: "during-term@example.com", firstName: "During", lastName: "Term" }),
  ]);
  const [doneSession, inFlightSession] = await Promise.all([emulator.createSession(done.id), emulator.createSession(inFlight.id)]);
  expect((await trpc("user.sync", doneSession.token)).status).toBe(200);

  // The next sync waits 2 s for Clerk; SIGTERM arrives while it does.
  await emulator.setFault({ endpoint: "getUser", latencyMs: 2_000 });
  await emulator.resetCounters();
  const pending = trpc("user.sync", inFlightSession.token);
  await expect.poll(() => emulator.count("getUser"), { timeout: 10_000 }).toBe(1);
  instance!.process.kill("SIGTERM");

  expect(await pending).toMatchObject({ status: 200, data: { outcome: "created" } });
  expect(await instance!.exited).toBe(143);
  const counts = await db.sql<{ outcome: string; count: number }[]>`
    select outcome, sum(count)::int as count from user_sync_write_stats where source = 'client-sync' group by outcome`;
  expect(counts).toEqual([{ outcome: "created", count: 2 }]);
});
