/**
 * The repository's test databases (test/database.ts, test/integration-harness.ts) for the
 * plugin's own tests, typed with the kit's schema: its test `users` table and the plugin's
 * tables (`testSchema`), so these tests need nothing of the host app.
 */
import type { SetupServer } from "msw/node";

import { createTestDatabase as createDatabase, type TestDatabase as Database } from "#test/database";
import { integrationHarness as harness, type IntegrationHarnessOptions } from "#test/integration-harness";

import { testSchema } from "../testing";

/** A test database of the plugin's tests. */
export type TestDatabase = Database<typeof testSchema>;

/** A database of its own for one test file (`beforeAll`; `truncate()` in `beforeEach`; `close()` in `afterAll`). */
export const createTestDatabase = (label: string): Promise<TestDatabase> => createDatabase(label, testSchema);

/** The shared integration lifecycle (msw listening, a database per file, reset and truncate before each test). */
export const integrationHarness = (label: string, server: SetupServer, options: Omit<IntegrationHarnessOptions<typeof testSchema>, "schema"> = {}): TestDatabase =>
  harness(label, server, { ...options, schema: testSchema });
