import type { SetupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";

import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "./database";

/**
 * The lifecycle an integration test file shares: msw's stand-ins listen (an unhandled request
 * fails the test), the file gets a database of its own (`app: true` points the app's
 * `~/server/db` at it), and before each test the stand-ins' state is `reset` and the tables
 * emptied. Call at the top level of the file, before its own hooks (which then run after these,
 * and their `afterAll` before the database closes). The answer reads the database of the
 * running file.
 */
export function integrationHarness(label: string, server: SetupServer, options: { reset?: () => void; app?: boolean } = {}): TestDatabase {
  let current: TestDatabase | undefined;
  const database = () => {
    if (!current) throw new Error("the test database exists once beforeAll has run");
    return current;
  };
  beforeAll(async () => {
    server.listen({ onUnhandledRequest: "error" });
    current = await createTestDatabase(label);
    if (options.app) useDatabaseForApp(current.url);
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
