import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { inject } from "vitest";

import { withDatabase } from "./global-setup";

/**
 * A database of its own for one test file, cloned from the migrated template: files run in
 * parallel workers and never see each other's rows. `schema` types `db` (the host passes its
 * schema module, the plugin the kit's `testSchema`); the tables are the template's either way.
 * Call in `beforeAll`; `truncate()` in `beforeEach`; `close()` in `afterAll`.
 */
export async function createTestDatabase<TSchema extends Record<string, unknown>>(label: string, schema: TSchema) {
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

/** A test database whose `db` is typed with `TSchema` (any schema when not given). */
export type TestDatabase<TSchema extends Record<string, unknown> = Record<string, unknown>> = Awaited<ReturnType<typeof createTestDatabase<TSchema>>>;
