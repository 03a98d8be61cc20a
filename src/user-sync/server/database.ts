/**
 * The host's database as the plugin sees it: its drizzle type, the rows of a raw statement on
 * any driver, and what a failure means (transient or permanent), converted to `UserSyncError`.
 */
import { sql, type SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

import { UserSyncError } from "./errors";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any host schema
export type UserSyncDatabase = PgDatabase<PgQueryResultHKT, any>;

/**
 * A FROM item that turns `synchronous_commit` off for the statement's own transaction: for
 * single-statement writes whose loss in a database crash costs a few extra Clerk calls, never a
 * wrong row (the budget's decisions, `user.sync`'s cooldown claim).
 */
export const asynchronousCommit = sql`(select set_config('synchronous_commit', 'off', true)) as user_sync_asynchronous_commit`;

/** Runs one statement on the host's database: its rows, or the failure as a `UserSyncError` (its class and SQLSTATE only). */
export async function executeRows<T>(db: () => Promise<UserSyncDatabase>, statement: SQL): Promise<T[]> {
  try {
    return rowsOf<T>(await (await db()).execute(statement));
  } catch (error) {
    throw fromDatabaseFailure(error);
  }
}

/** Rows of `db.execute`: postgres.js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

/** A database failure as a sync error: its class and SQLSTATE (or socket code) only. */
export function fromDatabaseFailure(error: unknown): UserSyncError {
  if (error instanceof UserSyncError) return error;
  const code = databaseErrorCode(error);
  const detail = code ? ` (${/^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code})` : "";
  return classifyDatabaseError(error) === "transient"
    ? new UserSyncError("DATABASE_UNAVAILABLE", `The database is unavailable${detail}`)
    : new UserSyncError("DATABASE_REJECTED", `The database rejected the user sync's statement${detail}`);
}

/**
 * What a database failure means for the caller: retry later (transient) or never (permanent).
 * Errors carry a string `code`: SQLSTATE (postgres.js, node-postgres, PGlite, neon's
 * `NeonDbError`) or a driver's network code (ECONNREFUSED, postgres.js's CONNECTION_CLOSED),
 * sometimes behind drizzle's `DrizzleQueryError` in `cause` or neon's `sourceError`. Some
 * drivers' connection failures carry none (node-postgres's "Connection terminated
 * unexpectedly", a Neon HTTP endpoint answering 5xx): those are recognised and given a code of
 * ours. Anything else without a code is not a database that is unavailable but a statement it
 * will never take (node-postgres's "Prepared statements must be unique", a value the driver
 * cannot serialise): permanent, so it is not retried as "unavailable" forever. Messages are only
 * compared with drivers' fixed phrases, never passed on: they can quote row values.
 */
export type DatabaseFailureKind = "transient" | "permanent";

/** SQLSTATE classes and codes that a retry can get past (PostgreSQL Appendix A). */
const transientSqlStates = [
  /^08/, // connection exception
  /^53/, // insufficient resources
  /^57P0[1-3]$/, // admin/crash shutdown, cannot connect now
  /^57014$/, // query_canceled (statement_timeout)
  /^40001$/, // serialization_failure
  /^40P01$/, // deadlock_detected
  /^55P03$/, // lock_not_available (lock_timeout)
  /^58/, // system error (I/O)
  /^XX/, // internal error
  // Deployment and configuration states an operator fixes, after which the same write succeeds:
  // a retry is right, a dead letter would acknowledge every event until then.
  /^25006$/, // read_only_sql_transaction (a failover left the app on a standby)
  /^28/, // invalid authorization (credentials)
  /^3D000$/, // invalid_catalog_name (database missing)
  /^3F000$/, // invalid_schema_name
  /^42P01$/, // undefined_table (migrations not applied yet)
  /^42703$/, // undefined_column (migrations not applied yet)
  /^42883$/, // undefined_function
  /^42501$/, // insufficient_privilege
];

const transientNodeCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  // Ours, for drivers' connection failures without a code (see codelessConnectionFailures).
  "CONNECTION_TERMINATED",
  "QUERY_READ_TIMEOUT",
  "NEON_HTTP_UNAVAILABLE",
  "QUERY_ABORTED",
  "FETCH_FAILED",
]);

/**
 * Connection failures that node-postgres (and neon's pg-compatible `Pool`) raise as plain
 * `Error`s, by the fixed start of their message, with the code this module gives them.
 */
const codelessConnectionFailures: [prefix: string, code: string][] = [
  ["Connection terminated", "CONNECTION_TERMINATED"],
  ["timeout exceeded when trying to connect", "CONNECT_TIMEOUT"],
  ["Client has encountered a connection error", "CONNECTION_TERMINATED"],
  ["Client was closed and is not queryable", "CONNECTION_ENDED"],
  ["Cannot use a pool after calling end on the pool", "CONNECTION_ENDED"],
  ["Query read timeout", "QUERY_READ_TIMEOUT"],
];

/** The errors an error was caused by: `cause` (drizzle, fetch), neon's `sourceError`, an AggregateError's `errors`. */
function causesOf(error: unknown): unknown[] {
  if (!error || typeof error !== "object") return [];
  const { cause, sourceError, errors } = error as { cause?: unknown; sourceError?: unknown; errors?: unknown };
  const nested: unknown[] = Array.isArray(errors) ? (errors as unknown[]) : [];
  return [cause, sourceError, ...nested].filter((next) => next !== undefined && next !== null && next !== error);
}

/** The error and what caused it, breadth first, a bounded number of them. */
function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length && chain.length < 10) {
    const next = queue.shift();
    if (!next || chain.includes(next)) continue;
    chain.push(next);
    queue.push(...causesOf(next));
  }
  return chain;
}

/** Our code for a connection failure a driver raised without one, or null. */
function codelessFailureCode(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  // Neon's HTTP driver: an error without a SQLSTATE is its transport (no answer, a 5xx, a proxy).
  if (error.name === "NeonDbError") return "NEON_HTTP_UNAVAILABLE";
  if (error.name === "AbortError" || error.name === "TimeoutError") return "QUERY_ABORTED";
  // undici's `fetch` failing to reach a server (its cause, when it has one, carries the socket code).
  if (error instanceof TypeError && error.message === "fetch failed") return "FETCH_FAILED";
  for (const [prefix, code] of codelessConnectionFailures) if (error.message.startsWith(prefix)) return code;
  return null;
}

/**
 * The first string `code` on the error or what caused it (SQLSTATE, or a network code such as
 * ECONNREFUSED); else our code for a recognised connection failure without one; else null.
 */
export function databaseErrorCode(error: unknown): string | null {
  const chain = errorChain(error);
  for (const current of chain) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code.slice(0, 40);
  }
  for (const current of chain) {
    const code = codelessFailureCode(current);
    if (code) return code;
  }
  return null;
}

/** True when the error came from the database driver (it carries a code). */
export function isDatabaseError(error: unknown): boolean {
  return databaseErrorCode(error) !== null;
}

/**
 * Transient: connection failures, timeouts, resource exhaustion, serialization failures,
 * deadlocks, and states an operator fixes (missing migrations, privileges, credentials, a
 * read-only standby). Permanent: everything else the database answered (data exceptions `22…`,
 * constraint violations `23…`, a host trigger's `P0001`, other `42…` errors, …), and an error
 * without a code that is no recognised connection failure (a driver refusing the statement).
 */
export function classifyDatabaseError(error: unknown): DatabaseFailureKind {
  const code = databaseErrorCode(error);
  if (code === null) return "permanent";
  if (transientNodeCodes.has(code)) return "transient";
  if (/^[0-9A-Z]{5}$/.test(code)) return transientSqlStates.some((pattern) => pattern.test(code)) ? "transient" : "permanent";
  // Any other driver-level code (a socket error we do not list) is about reaching the server.
  return "transient";
}
