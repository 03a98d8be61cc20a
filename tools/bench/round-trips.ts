/**
 * Database round trips (statements sent by postgres.js, BEGIN/COMMIT included) per `user.sync`
 * and per webhook delivery, counted through the plugin's public entry against a fresh database
 * migrated from `drizzle/` and an in-process Clerk emulator (its real Backend API). Telemetry's
 * flush (one statement per 5 s per instance) and the inbox prune (every 5 min) are left out: they
 * are not per request.
 *
 * npx tsx --conditions=react-server tools/bench/round-trips.ts [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--emulator-port 4502]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

import { ClerkEmulatorControl, startClerkEmulator } from "clerk-user-sync-emulator";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";

import * as schema from "~/server/db/schema";
import { createUserSync } from "clerk-user-sync/server";

import { recreateDatabase } from "../../e2e/support/database";

const { values: args } = parseArgs({
  options: { "database-url": { type: "string", default: "postgres://postgres@127.0.0.1:5432/postgres" }, "emulator-port": { type: "string", default: "4502" } },
});
const databaseName = `user_sync_round_trips_${process.pid}`;
const databaseUrl = new URL(args["database-url"]);
databaseUrl.pathname = `/${databaseName}`;
await recreateDatabase(databaseUrl.href, "drizzle");

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "user-sync-round-trips-"));
const { emulator, close } = await startClerkEmulator({ port: Number(args["emulator-port"]), appUrl: "http://localhost:9", stateDir, seeds: [], clerkJsDir: null, log: () => undefined });
let statements: string[] = [];
const client = postgres(databaseUrl.href, {
  max: 4,
  onnotice: () => undefined,
  debug: (_connection, query) => statements.push(query.replace(/\s+/g, " ").trim().slice(0, 60)),
});
try {
  const db = drizzle({ client, schema });
  const control = new ClerkEmulatorControl(emulator.origin);
  const { firstId } = await control.createUsersInBulk(3, "trips");
  const [first, second] = await control.users();
  if (!first || !second) throw new Error("the emulator seeded no users");

  function plugin(cooldownSeconds: number) {
    return createUserSync({
      db: () => Promise.resolve(db),
      users: schema.users,
      clerk: { secretKey: emulator.identity.secretKey, apiUrl: emulator.origin },
      cooldownSeconds,
      clerkBudget: { requestsPer10s: 1000 },
      telemetry: false,
      webhook: { signingSecret: emulator.identity.webhookSigningSecret, log: () => undefined, pruneIntervalMs: 0 },
    });
  }

  async function count(label: string, work: () => Promise<unknown>) {
    statements = [];
    await work();
    console.log(`${String(statements.length).padStart(2)}  ${label}`);
    for (const statement of statements) console.log(`      ${statement}`);
  }

  const caller = { sessionToken: null };
  const off = plugin(0);
  // The budget's row is created by its first use: not counted.
  await off.service.syncUser(firstId, caller);
  const rowVersion = async () => (await client<{ xmin: string }[]>`select xmin::text from users where id = ${firstId}`)[0]?.xmin;
  const versionBefore = await rowVersion();
  await count("user.sync, cooldown off, identical re-sync", () => off.service.syncUser(firstId, caller));
  console.log(`      new row versions of users: ${versionBefore === (await rowVersion()) ? 0 : 1}`);
  const on = plugin(10);
  await count("user.sync, cooldown 10 s, first sync of a user (fetches)", () => on.service.syncUser(second.id, caller));
  await count("user.sync, cooldown 10 s, again within the cooldown", () => on.service.syncUser(second.id, caller));

  const signer = new Webhook(emulator.identity.webhookSigningSecret);
  const delivery = (svixId: string, updatedAt: number) => {
    const body = JSON.stringify({ type: "user.updated", object: "event", timestamp: Date.now(), data: { ...first, first_name: `Trips ${updatedAt}`, updated_at: updatedAt } });
    const at = new Date();
    return new Request("http://localhost/api/webhooks/clerk", {
      method: "POST",
      headers: { "svix-id": svixId, "svix-timestamp": String(Math.floor(at.getTime() / 1000)), "svix-signature": signer.sign(svixId, at, body) },
      body,
    });
  };
  const clock = first.updated_at + 1000;
  // postgres.js reads the database's array types on a connection's first use of some parameters: not counted.
  await off.webhook.handle(delivery("msg_trips_0", clock - 1));
  await count("webhook user.updated, applied", () => off.webhook.handle(delivery("msg_trips_1", clock)));
  await count("webhook user.updated, redelivered", () => off.webhook.handle(delivery("msg_trips_1", clock)));
} finally {
  await client.end({ timeout: 5 });
  await close();
  fs.rmSync(stateDir, { recursive: true, force: true });
  const admin = postgres(args["database-url"], { max: 1, onnotice: () => undefined });
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin.end();
}
