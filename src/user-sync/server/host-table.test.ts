/**
 * The plugin writes and reads the host's own table objects: a users table in a PostgreSQL schema
 * of its own (`pgSchema("app").table("users", …)`) gets every write and every read in `app.users`,
 * from user.sync, user.me's read and the webhook alike, and nothing lands in `public.users`; and
 * the plugin's own tables made with the host's table function (create-t3-app's `createTable`, a
 * prefix) get every one of the plugin's writes under the prefixed names.
 */
import { getTableName } from "drizzle-orm";
import { pgSchema, pgTableCreator, text } from "drizzle-orm/pg-core";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkBackend, mintSessionToken, signedRequest, userEvent } from "../testing";
import { createTestDatabase, type TestDatabase } from "./test-database";

import { createUserSync } from "./index";
import { userSyncColumns, userSyncTables } from "./schema";

const appUsers = pgSchema("app").table("users", {
  ...userSyncColumns(),
  plan: text("plan").notNull().default("starter"),
});

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let testDb: TestDatabase;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("host_table");
  await testDb.client.unsafe(`
    create schema app;
    create table app.users (like public.users including all);
    alter table app.users drop column tier, add column plan text not null default 'starter';`);
  // The plugin's tables as drizzle-kit would create them for `userSyncTables(createTable)`.
  for (const name of pluginTableNames) await testDb.client.unsafe(`create table t3_${name} (like public.${name} including all)`);
});
beforeEach(async () => {
  clerk.reset();
  await testDb.truncate();
  await testDb.client`truncate app.users`;
});

/** Every table of the plugin, by its unprefixed name: derived from the schema, so a new table is never left out. */
const pluginTableNames = Object.values(userSyncTables()).map((table) => getTableName(table));

async function rowCounts(prefix: string) {
  const counts: Record<string, number> = {};
  for (const name of pluginTableNames) {
    const [row] = await testDb.client.unsafe<{ n: number }[]>(`select count(*)::int as n from ${prefix}${name}`);
    counts[name] = row!.n;
  }
  return counts;
}
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };

function plugin() {
  return createUserSync({
    db: () => Promise.resolve(testDb.db),
    users: appUsers,
    clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
    cooldownSeconds: 30,
    webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
  });
}

async function rowsIn(table: "app.users" | "public.users") {
  return testDb.client.unsafe<{ id: string; last_name: string | null; clerk_updated_at: string }[]>(
    `select id, last_name, clerk_updated_at::text from ${table}`,
  );
}

describe("a schema-qualified host table", () => {
  it("gets user.sync's writes and reads, and the webhook's writes, in app.users", async () => {
    const userSync = plugin();
    clerk.setUser(ada);
    const synced = await userSync.service.syncUser(ada.id, { sessionToken: mintSessionToken({ userId: ada.id }) });
    expect(synced).toMatchObject({ outcome: "created", user: { id: ada.id, plan: "starter" } });
    expect(await rowsIn("app.users")).toEqual([{ id: ada.id, last_name: "Lovelace", clerk_updated_at: "1000" }]);
    expect(await rowsIn("public.users")).toEqual([]);

    // The cooldown's read (clerk_fetched_at) and user.me's read come from app.users too.
    await testDb.client`update app.users set plan = 'pro'`;
    const again = await userSync.service.syncUser(ada.id, { sessionToken: mintSessionToken({ userId: ada.id }) });
    expect(again).toMatchObject({ outcome: "unchanged", user: { plan: "pro" } });
    expect(clerk.getUserCalls()).toBe(1);
    expect(await userSync.service.readLiveUser(ada.id)).toMatchObject({ id: ada.id, plan: "pro" });

    const delivery = await userSync.webhook.handle(
      signedRequest(userEvent("user.updated", { ...ada, lastName: "King", updatedAtMs: 2_000 }), { svixId: "msg_app_schema" }),
    );
    expect(delivery.status).toBe(200);
    expect(await rowsIn("app.users")).toEqual([{ id: ada.id, last_name: "King", clerk_updated_at: "2000" }]);
    expect(await rowsIn("public.users")).toEqual([]);
  });

  it("the plugin's own tables take the host's prefix: every write of the plugin lands in them, none in the unprefixed ones", async () => {
    const createTable = pgTableCreator((name) => `t3_${name}`);
    const tables = userSyncTables(createTable);
    const userSync = createUserSync({
      db: () => Promise.resolve(testDb.db),
      users: appUsers,
      tables,
      clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
      cooldownSeconds: 30,
      webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
    });
    clerk.setUser(ada);
    await userSync.service.syncUser(ada.id, { sessionToken: mintSessionToken({ userId: ada.id }) });
    const delivery = await userSync.webhook.handle(
      signedRequest(userEvent("user.updated", { ...ada, lastName: "King", updatedAtMs: 2_000 }), { svixId: "msg_prefixed" }),
    );
    expect(delivery.status).toBe(200);
    await userSync.telemetry!.flush();
    await testDb.client`update t3_clerk_webhook_events set received_at = now() - interval '40 days'`;
    expect(await userSync.webhook.pruneInbox()).toMatchObject({ deletedRows: 1 });
    await testDb.client`update t3_user_sync_write_stats set bucket_start = now() - interval '20 days'`;
    expect(await userSync.telemetry!.prune()).toBeGreaterThan(0);
    const report = await userSync.health.check();
    expect(report).toMatchObject({ liveUsers: 1, deadLetters: 0 });
    expect(await userSync.isAdmin(ada.id)).toBe(false);

    expect(getTableName(tables.clerkWebhookEvents)).toBe("t3_clerk_webhook_events");
    // The budget's row (every Clerk call), the claim (cooldown), the shared reads (Clerk's count, Ada's role) and the flushed counters, prefixed.
    expect(await rowCounts("t3_")).toMatchObject({
      user_sync_clerk_budget: 1,
      user_sync_clerk_fetches: 1,
      user_sync_clerk_cache: 2,
      clerk_webhook_events: 0,
      user_sync_write_stats: 0,
    });
    expect(await rowCounts("public.")).toEqual(Object.fromEntries(pluginTableNames.map((name) => [name, 0])));
  });

  it("a host table without the plugin's columns is refused when the plugin is created", () => {
    const bare = pgSchema("app").table("accounts", { id: text("id").primaryKey() });
    expect(() =>
      createUserSync({
        db: () => Promise.resolve(testDb.db),
        users: bare as unknown as typeof appUsers,
        clerk: { secretKey: "sk_live_x" },
      }),
    ).toThrow(/lacks the columns of userSyncColumns\(\)/);
  });
});
