/**
 * A PostgreSQL array literal, sent as one text parameter and cast in SQL: a 500-user page is a
 * handful of parameters whatever the driver (postgres.js would send a JS array of strings as
 * "a,b", and building thousands of separate parameters costs more than the statement itself).
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  return `{${values
    .map((value) => (value === null ? "NULL" : typeof value === "number" ? String(value) : `"${value.replace(/[\\"]/g, "\\$&")}"`))
    .join(",")}}`;
}

/** A json column: postgres.js parses it, PGlite may hand it over as text. */
export function parseJson<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}
