/**
 * The plugin writes and reads the host's own table object: a table in a PostgreSQL schema of
 * its own (`pgSchema("app").table("users", …)`) gets every write and every read in `app.users`,
 * from user.sync, user.me's read and the webhook alike, and nothing lands in `public.users`.
 */
import { pgSchema, text } from "drizzle-orm/pg-core";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { mintSessionToken } from "~/test/clerk-session";
import { signedRequest, userEvent } from "~/test/clerk-webhook";
import { createTestDatabase, type TestDatabase } from "~/test/database";
import { clerkApiUrl, createClerkBackend } from "~/test/mocks/clerk-backend";

import { createUserSync } from "./index";
import { userSyncColumns } from "./schema";

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
});
beforeEach(async () => {
  clerk.reset();
  await testDb.truncate();
  await testDb.client`truncate app.users`;
});
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
