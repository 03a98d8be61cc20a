/**
 * The connection budget of one app instance: how many database connections each path of the
 * plugin holds at once (one user.sync, one webhook delivery with its after-the-response work, one
 * health check, one reconciliation, one profile edit, a telemetry flush, an inbox prune), counted
 * through the plugin's public entry on a fresh client per path with a pool of `--pool` connections:
 * postgres.js (distinct connections its `debug` hook saw; it takes an idle connection before it
 * opens another) and node-postgres (`pool.totalCount`: it opens a client only when none is idle).
 * A fresh database migrated from `drizzle/`, the Clerk emulator in process for Clerk.
 *
 * npx tsx --conditions=react-server tools/bench/connections.ts [--pool 10] [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--emulator-port 4503]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import pg from "pg";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";

import { ClerkEmulatorControl, startClerkEmulator } from "clerk-user-sync-emulator";
import * as schema from "~/server/db/schema";
import { createUserSync, type UserSyncDatabase } from "clerk-user-sync/server";

import { recreateDatabase } from "../../e2e/support/database";

const { values: args } = parseArgs({
  options: {
    pool: { type: "string", default: "10" },
    "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" },
    "emulator-port": { type: "string", default: "4503" },
  },
});
const poolSize = Number(args.pool);
const databaseName = `user_sync_connections_${process.pid}`;
const databaseUrl = new URL(args["database-url"]);
databaseUrl.pathname = `/${databaseName}`;
await recreateDatabase(databaseUrl.href, "drizzle");

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "user-sync-connections-"));
const { emulator, close } = await startClerkEmulator({ port: Number(args["emulator-port"]), appUrl: "http://localhost:9", stateDir, seeds: [], clerkJsDir: null, log: () => undefined });
const control = new ClerkEmulatorControl(emulator.origin);
await control.setWebhooks({ drop: true });

type Driver = "postgres-js" | "node-postgres";

/** A fresh client with a pool of `poolSize`, and how many connections it has used so far. */
function openClient(driver: Driver): { db: UserSyncDatabase; connectionsUsed: () => number; close: () => Promise<void> } {
  if (driver === "postgres-js") {
    const seen = new Set<number>();
    const client = postgres(databaseUrl.href, { max: poolSize, onnotice: () => undefined, debug: (connection) => seen.add(connection) });
    return { db: drizzlePostgresJs({ client, schema }), connectionsUsed: () => seen.size, close: () => client.end({ timeout: 5 }) };
  }
  const pool = new pg.Pool({ connectionString: databaseUrl.href, max: poolSize });
  return { db: drizzleNodePg({ client: pool, schema }), connectionsUsed: () => pool.totalCount, close: () => pool.end() };
}

/** The plugin as a Next host runs it: its after-the-response work collected and run once the "response" is out. */
function plugin(db: UserSyncDatabase) {
  const scheduled: (() => Promise<void>)[] = [];
  const userSync = createUserSync({
    db,
    users: schema.users,
    clerk: { secretKey: emulator.identity.secretKey, apiUrl: emulator.origin },
    cooldownSeconds: 10,
    clerkBudget: { requestsPer10s: 1000 },
    schedule: (task) => scheduled.push(task),
    webhook: { signingSecret: emulator.identity.webhookSigningSecret, log: () => undefined },
    // Reconciliation proves the Backend API is this instance before it writes.
    reconcile: { instanceId: emulator.identity.instanceId },
    log: () => undefined,
  });
  const afterResponse = async () => {
    while (scheduled.length) await scheduled.shift()!();
  };
  return { userSync, afterResponse };
}

const signer = new Webhook(emulator.identity.webhookSigningSecret);
function delivery(svixId: string, user: Record<string, unknown>) {
  const body = JSON.stringify({ type: "user.updated", object: "event", timestamp: Date.now(), data: { ...user, first_name: `Budget ${svixId}`, updated_at: Date.now() } });
  const at = new Date();
  return new Request("http://localhost/api/webhooks/clerk", {
    method: "POST",
    headers: { "svix-id": svixId, "svix-timestamp": String(Math.floor(at.getTime() / 1000)), "svix-signature": signer.sign(svixId, at, body) },
    body,
  });
}

try {
  const { firstId } = await control.createUsersInBulk(20, "budget");
  const [first, second, third] = await control.users({ limit: 3 });
  if (!first || !second || !third) throw new Error("the emulator seeded no users");
  // The mirror starts with some users and an expired inbox, as a running app's does.
  {
    const setup = openClient("postgres-js");
    await plugin(setup.db).userSync.service.syncUser(firstId, { sessionToken: null });
    await setup.close();
  }
  const admin = postgres(databaseUrl.href, { max: 1, onnotice: () => undefined });
  await admin`
    insert into clerk_webhook_events (svix_id, event_type, outcome, received_at, processed_at)
    select 'msg_expired_' || i, 'user.updated', 'updated', now() - interval '40 days', now() - interval '40 days' from generate_series(1, 2000) as i`;

  const paths: { name: string; run: (p: ReturnType<typeof plugin>) => Promise<unknown> }[] = [
    { name: "user.sync, first fetch (cooldown claim, budget, Clerk, write, after: telemetry flush)", run: async (p) => p.userSync.service.syncUser(second.id, { sessionToken: null }).then(p.afterResponse) },
    { name: "user.sync within the cooldown (answered from the claim)", run: async (p) => p.userSync.service.syncUser(second.id, { sessionToken: null }).then(p.afterResponse) },
    { name: "webhook delivery (write + inbox in one statement; after: flush, inbox prune)", run: async (p) => p.userSync.webhook.handle(delivery(`msg_budget_${Date.now()}`, first)).then(p.afterResponse) },
    { name: "health check (flush, figures, Clerk count via the budget)", run: async (p) => p.userSync.health.check() },
    { name: "profile write (Clerk PATCH via the budget, write path)", run: async (p) => p.userSync.profile.updateProfile(third.id, { firstName: "Budget" }).then(p.afterResponse) },
    { name: "reconciliation, full apply (20 users)", run: async (p) => p.userSync.reconcile({ dryRun: false, mode: "full" }) },
  ];

  const rows: string[][] = [];
  for (const { name, run } of paths) {
    const row = [name];
    for (const driver of ["postgres-js", "node-postgres"] as const) {
      const client = openClient(driver);
      try {
        await run(plugin(client.db));
        row.push(String(client.connectionsUsed()));
      } finally {
        await client.close();
      }
    }
    rows.push(row);
  }
  await admin.end();

  console.log(`Connections one operation holds at once, with a pool of ${poolSize} (fresh client per path):\n`);
  console.log("| Path | postgres.js | node-postgres |");
  console.log("|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
} finally {
  await close();
  fs.rmSync(stateDir, { recursive: true, force: true });
  const admin = postgres(args["database-url"], { max: 1, onnotice: () => undefined });
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin.end();
}
