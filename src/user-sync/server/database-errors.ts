/**
 * What a database failure means for the caller: retry later (transient) or never (permanent).
 * postgres.js and PGlite errors carry a string `code` (SQLSTATE, or a Node network code such as
 * ECONNREFUSED), sometimes behind drizzle's wrapper in `cause`. Messages are never read or
 * passed on: they can quote row values (emails, names).
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
]);

/** The first string `code` on the error or its causes, or null when none is there. */
export function databaseErrorCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code.slice(0, 40);
    current = (current as { cause?: unknown }).cause;
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
 * constraint violations `23…`, a host trigger's `P0001`, other `42…` errors, …).
 */
export function classifyDatabaseError(error: unknown): DatabaseFailureKind {
  const code = databaseErrorCode(error);
  if (code === null) return "transient";
  if (transientNodeCodes.has(code)) return "transient";
  if (/^[0-9A-Z]{5}$/.test(code)) return transientSqlStates.some((pattern) => pattern.test(code)) ? "transient" : "permanent";
  // Any other driver-level code (a socket error we do not list) is about reaching the server.
  return "transient";
}
