import type { SetupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";

import { createTestDatabase, type TestDatabase } from "./database";

export type IntegrationHarnessOptions<TSchema extends Record<string, unknown>> = {
  /** Types the database's `db` (the host's schema module, or the kit's `testSchema`). */
  schema: TSchema;
  /** Resets the stand-ins' state before each test. */
  reset?: () => void;
  /** Runs once the database exists, before the file's own `beforeAll` (the host points its app's database module at it). */
  onDatabase?: (database: TestDatabase<TSchema>) => void;
};

/**
 * The lifecycle an integration test file shares: msw's stand-ins listen (an unhandled request
 * fails the test), the file gets a database of its own, and before each test the stand-ins'
 * state is `reset` and the tables emptied. Call at the top level of the file, before its own
 * hooks (which then run after these, and their `afterAll` before the database closes). The
 * answer reads the database of the running file.
 */
export function integrationHarness<TSchema extends Record<string, unknown>>(
  label: string,
  server: SetupServer,
  options: IntegrationHarnessOptions<TSchema>,
): TestDatabase<TSchema> {
  let current: TestDatabase<TSchema> | undefined;
  const database = () => {
    if (!current) throw new Error("the test database exists once beforeAll has run");
    return current;
  };
  beforeAll(async () => {
    server.listen({ onUnhandledRequest: "error" });
    current = await createTestDatabase(label, options.schema);
    options.onDatabase?.(current);
  });
  beforeEach(async () => {
    options.reset?.();
    await database().truncate();
  });
  afterEach(() => server.resetHandlers());
  afterAll(async () => {
    server.close();
    await current?.close();
  });
  return {
    get url() {
      return database().url;
    },
    get client() {
      return database().client;
    },
    get db() {
      return database().db;
    },
    truncate: () => database().truncate(),
    close: () => database().close(),
  };
}
