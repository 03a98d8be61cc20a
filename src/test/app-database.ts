/**
 * The repository's test databases (test/database.ts, test/integration-harness.ts) for the host
 * app's tests: typed with the host's schema, and able to point the app's own database module
 * (`~/server/db`) at the file's database.
 */
import type { SetupServer } from "msw/node";

import { createTestDatabase as createDatabase, type TestDatabase as Database } from "#test/database";
import { integrationHarness as harness, type IntegrationHarnessOptions } from "#test/integration-harness";
import * as schema from "~/server/db/schema";

/** A test database of the host's tests. */
export type TestDatabase = Database<typeof schema>;

/** A database of its own for one test file (`beforeAll`; `truncate()` in `beforeEach`; `close()` in `afterAll`). */
export const createTestDatabase = (label: string): Promise<TestDatabase> => createDatabase(label, schema);

/**
 * Points the app's own database module (`~/server/db`) at a test database. Call before the
 * first import of app modules in a file.
 */
export function useDatabaseForApp(url: string) {
  process.env.DATABASE_URL = url;
  (globalThis as { userSyncDb?: unknown }).userSyncDb = undefined;
}

/** The shared integration lifecycle; `app: true` points the app's `~/server/db` at the file's database. */
export const integrationHarness = (
  label: string,
  server: SetupServer,
  options: Omit<IntegrationHarnessOptions<typeof schema>, "schema" | "onDatabase"> & { app?: boolean } = {},
): TestDatabase =>
  harness(label, server, { reset: options.reset, schema, onDatabase: options.app ? (database) => useDatabaseForApp(database.url) : undefined });
