import { expect, test as base, type Page } from "@playwright/test";
import { ClerkEmulatorControl } from "clerk-user-sync-emulator";
import postgres from "postgres";

import { databaseUrl, emulatorUrl } from "./settings";

/** A `users` row as the tests read it, straight from PostgreSQL. */
export type UserRow = {
  id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  image_url: string | null;
  tier: string;
  clerk_updated_at: string;
  last_synced_at: Date | null;
  deleted_at: Date | null;
};

type Fixtures = {
  /** The emulator, reset before the test: seeded users, no faults, no deliveries, zero counters. */
  emulator: ClerkEmulatorControl;
  /** Reads the app's database; its tables are emptied before the test. */
  db: { userRow: (id: string) => Promise<UserRow | null>; sql: postgres.Sql };
};

// Fixture callbacks name their `use` argument `provide`: the React hooks lint rule would take `use` for React's.
export const test = base.extend<Fixtures, { sql: postgres.Sql }>({
  sql: [
    async ({}, provide) => {
      const sql = postgres(databaseUrl, { max: 2, onnotice: () => undefined });
      await provide(sql);
      await sql.end();
    },
    { scope: "worker" },
  ],
  emulator: async ({}, provide, testInfo) => {
    const emulator = new ClerkEmulatorControl(emulatorUrl);
    await emulator.reset();
    await provide(emulator);
    const getUserCalls = String(await emulator.count("getUser"));
    testInfo.annotations.push({ type: "getUser calls", description: getUserCalls });
    console.log(`[clerk-emulator] getUser calls: ${getUserCalls}`);
    // Nothing left half-sent into the next test.
    await emulator.reset();
  },
  // After the emulator's reset, so no delivery of an earlier test lands after the truncate.
  db: async ({ sql, emulator: _emulator }, provide) => {
    const tables = await sql<{ tablename: string }[]>`select tablename from pg_tables where schemaname = 'public'`;
    if (tables.length > 0) await sql.unsafe(`truncate ${tables.map((t) => `"${t.tablename}"`).join(", ")}`);
    await provide({
      sql,
      userRow: async (id) => (await sql<UserRow[]>`select * from users where id = ${id}`)[0] ?? null,
    });
  },
});

export { expect };

/** The user's journey in: the app's Sign in button, then a pick on the emulator's sign-in page. */
export async function signIn(page: Page, userId: string) {
  if (!page.url().startsWith("http://localhost")) await page.goto("/");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${emulatorUrl}/sign-in**`);
  await page.locator(`button[data-user-id="${userId}"]`).click();
  await page.waitForURL("**/dashboard");
}

export function syncStatus(page: Page) {
  return page.getByTestId("sync-status");
}
