import { createHash } from "node:crypto";

/** A statement built once and run many times with the values of its placeholders. */
export type ReusableQuery<TResult> = { execute(values?: Record<string, unknown>): Promise<TResult> };

/** A drizzle query builder whose placeholders are filled at execution. */
type Buildable<TResult> = {
  prepare(name: string): ReusableQuery<TResult>;
  execute(values?: Record<string, unknown>): Promise<TResult>;
  toSQL(): { sql: string };
};

/**
 * Builds `query` once (drizzle turning a few hundred SQL chunks into text costs more CPU than
 * PostgreSQL spends running a single-row write) and returns it ready to run with its values.
 *
 * Unnamed by default: the driver sends the statement's text each time, which every driver and
 * every transaction pooler (PgBouncer, Supabase's, Neon's) accepts; postgres.js still caches it
 * per connection unless the host created its client with `prepare: false`. With `named`, it is a
 * server-side named prepared statement (parsed and planned once per connection), for hosts
 * connected straight to PostgreSQL that opt in; the name carries a hash of the statement's text,
 * so two plugin instances, or two tables, on one pool never share a name.
 */
export function reusableQuery<TResult>(query: Buildable<TResult>, label: string, named: boolean): ReusableQuery<TResult> {
  if (named) {
    const digest = createHash("sha256").update(query.toSQL().sql).digest("hex").slice(0, 16);
    return query.prepare(`user_sync_${label}_${digest}`);
  }
  // drizzle's own `execute()` builds an unnamed prepared query and runs it; `_prepare()` is that
  // step, kept. Should a drizzle version lack it, the builder rebuilds the statement per call.
  const prepareUnnamed = (query as { _prepare?: () => ReusableQuery<TResult> })._prepare;
  return typeof prepareUnnamed === "function" ? prepareUnnamed.call(query) : { execute: (values) => query.execute(values) };
}
