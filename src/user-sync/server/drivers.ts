/**
 * What the host's drizzle database can do, read from the database object itself, so the plugin
 * can say at construction what a driver cannot do (instead of failing in a background task).
 *
 * Every statement of the plugin runs on every driver: single statements only, unnamed unless
 * the host opts in (`preparedStatements`), each carrying parameters, results read through
 * `rowsOf` and numbers, times and json that every driver hands over the same way. What differs:
 * - `neon-http` sends each statement on its own HTTP request: no interactive transaction
 *   (drizzle's `transaction()` throws), no session.
 * - PGlite, a `pg.Client`, or a pool of one connection: a transaction held open by one task
 *   blocks every other statement of the process (the plugin holds none: reconciliation's single
 *   flight is a lease row).
 */
import { entityKind } from "drizzle-orm";

import type { UserSyncDatabase } from "./database";

export type DriverName = "postgres-js" | "node-postgres" | "neon-http" | "neon-serverless" | "vercel-postgres" | "pglite" | "unknown";

export type DatabaseTraits = {
  driver: DriverName;
  /** `db.transaction(async (tx) => …)` with statements in between (every driver but neon-http). */
  interactiveTransactions: boolean;
  /**
   * At most one connection (PGlite, a single client, a pool of one): a transaction held open
   * while other statements of the same process wait would wait forever.
   */
  singleConnection: boolean;
};

const driversByKind: Record<string, DriverName> = {
  PostgresJsDatabase: "postgres-js",
  NodePgDatabase: "node-postgres",
  NeonHttpDatabase: "neon-http",
  NeonServerlessDatabase: "neon-serverless",
  VercelPgDatabase: "vercel-postgres",
  PgliteDatabase: "pglite",
};

/** The most connections the database's client opens, when it says (a pool's `max`). */
function maxConnections(driver: DriverName, client: unknown): number | null {
  if (driver === "pglite") return 1;
  // postgres.js's client is a function (the `sql` tag) with its options on it.
  if (!client || (typeof client !== "object" && typeof client !== "function")) return null;
  const options = (client as { options?: { max?: unknown } }).options;
  const poolLike = driver === "postgres-js" || client.constructor.name.includes("Pool");
  // node-postgres / neon: a single `Client` is one connection.
  if (!poolLike && (driver === "node-postgres" || driver === "neon-serverless" || driver === "vercel-postgres")) return 1;
  return typeof options?.max === "number" ? options.max : null;
}

export function databaseTraits(db: UserSyncDatabase): DatabaseTraits {
  const kind = (db.constructor as { [entityKind]?: string })[entityKind] ?? "";
  const driver = driversByKind[kind] ?? "unknown";
  const max = maxConnections(driver, (db as { $client?: unknown }).$client);
  return {
    driver,
    interactiveTransactions: driver !== "neon-http",
    singleConnection: max === 1,
  };
}
