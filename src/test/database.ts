import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { inject } from "vitest";

import * as schema from "~/server/db/schema";

import { withDatabase } from "./global-setup";

/**
 * A database of its own for one test file, cloned from the migrated template: files run in
 * parallel workers and never see each other's rows. Call in `beforeAll`; `truncate()` in
 * `beforeEach`; `close()` in `afterAll`.
 */
export async function createTestDatabase(label: string) {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `user_sync_test_${label.replace(/\W/g, "_")}_${process.pid}`.toLowerCase().slice(0, 63);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name} template ${inject("templateDatabase")}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const client = postgres(url, { max: 10, onnotice: () => undefined });
  const db = drizzle({ client, schema });
  return {
    url,
    client,
    db,
    async truncate() {
      const tables = await client<{ tablename: string }[]>`
        select tablename from pg_tables where schemaname = 'public'`;
      if (tables.length) await client.unsafe(`truncate ${tables.map((t) => `"${t.tablename}"`).join(", ")}`);
    },
    async close() {
      await client.end({ timeout: 5 });
      const cleanup = postgres(adminUrl, { max: 1, onnotice: () => undefined });
      try {
        await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

export type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/**
 * Points the app's own database module (`~/server/db`) at a test database. Call before the
 * first import of app modules in a file.
 */
export function useDatabaseForApp(url: string) {
  process.env.DATABASE_URL = url;
  (globalThis as { userSyncDb?: unknown }).userSyncDb = undefined;
}
