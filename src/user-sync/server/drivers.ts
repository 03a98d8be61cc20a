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
 *   blocks every other statement of the process.
 */
import { entityKind } from "drizzle-orm";

import type { UserSyncDatabase } from "./write-path";

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

/** How reconciliation holds its single-flight lock (see reconcile.ts). */
export type ReconcileLockMode = "transaction" | "session";

/**
 * The lock by default: a session lock on PGlite (one connection, one session); a transaction held
 * for the run anywhere else. A session lock on another single connection is for the host to ask
 * for: behind a transaction pooler its two statements may run on two server connections, and the
 * lock would outlive the run.
 */
export function defaultReconcileLock(traits: DatabaseTraits): ReconcileLockMode {
  return traits.driver === "pglite" ? "session" : "transaction";
}

/**
 * Why reconciliation cannot run on this database with this lock, or null. Its lock is an open
 * transaction beside the run's own statements (a lease in PostgreSQL replaces it: issue 17).
 */
export function reconcileLimitation(traits: DatabaseTraits, lock: ReconcileLockMode): string | null {
  if (lock === "transaction" && !traits.interactiveTransactions) {
    return `reconciliation holds its lock in an interactive transaction, which drizzle's ${traits.driver} driver does not have; reconcile from a job whose database uses a connection pool (neon-serverless's Pool, node-postgres, postgres.js) on the same PostgreSQL`;
  }
  if (lock === "transaction" && traits.singleConnection) {
    return `reconciliation holds its lock in a transaction on one connection while its statements need another, and this ${traits.driver} database has a single connection; give it a pool of at least 2 connections, or pass reconcile: { lock: "session" } if that connection goes straight to PostgreSQL (not through a transaction pooler)`;
  }
  if (lock === "session" && !traits.singleConnection) {
    return `reconcile.lock "session" takes and releases a session lock with two statements, which a ${traits.driver} pool may run on two connections; use the default lock on a connection pool`;
  }
  return null;
}

/** Reconciliation cannot run on the host's database (see `reconcileLimitation`); the admin API answers 501. */
export class ReconcileUnsupportedError extends Error {
  readonly code = "RECONCILE_UNSUPPORTED";
  constructor(limitation: string) {
    super(`Reconciliation is not available: ${limitation}`);
    this.name = "ReconcileUnsupportedError";
  }
}
