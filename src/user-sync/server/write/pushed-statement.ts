import { sql, type SQL } from "drizzle-orm";

import type { ClerkUserSnapshot } from "../clerk/user-json";
import type { SyncedUsersTable } from "../schema";
import { assignments, mirroredValueColumns, pushedUpsertClauses, tombstoneClauses } from "./clauses";

/** A snapshot's mirrored values as typed SQL parameters, in `mirroredValueColumns` order. */
function snapshotValues(user: ClerkUserSnapshot): SQL[] {
  return mirroredValueColumns.map((key) => {
    const value = user[key];
    return typeof value === "boolean" ? sql`${value}::boolean` : sql`${value}::text`;
  });
}

/** A webhook's effect: a pushed snapshot, or Clerk's own deletion at its event time. */
export type PushedWrite = { kind: "upsert"; user: ClerkUserSnapshot } | { kind: "tombstone"; userId: string; clerkClockMs: number };

/**
 * A pushed write (the same clauses as `upsertClerkUser(…, "pushed")` and `tombstoneClerkUser`)
 * as SQL to compose into a larger statement: `insert` is one `INSERT … SELECT … WHERE onlyIf
 * ON CONFLICT (id) DO UPDATE … WHERE … RETURNING last_sync_outcome AS outcome`, and
 * `outcomeIfNotWritten` the outcome when it returned nothing, from the row as the statement
 * found it. Nothing is inserted or updated unless `onlyIf` holds.
 */
export function pushedWriteStatement(table: SyncedUsersTable, write: PushedWrite, onlyIf: SQL): { insert: SQL; outcomeIfNotWritten: SQL } {
  const column = (key: keyof SyncedUsersTable["_"]["columns"]) => sql.identifier(table[key].name);
  const outcome = sql`returning ${column("lastSyncOutcome")} as outcome`;
  if (write.kind === "tombstone") {
    const { set, where } = tombstoneClauses(table);
    return {
      insert: sql`insert into ${table} (${column("id")}, ${column("clerkUpdatedAt")}, ${column("deletedAt")}, ${column("deletedBy")}, ${column("lastSyncedAt")}, ${column("lastSyncOutcome")})
        select ${write.userId}::text, ${write.clerkClockMs}::bigint, now(), 'webhook', now(), 'deleted' where ${onlyIf}
        on conflict (${column("id")}) do update set ${assignments(table, set)} where ${where} ${outcome}`,
      // Already a tombstone.
      outcomeIfNotWritten: sql`'deleted'`,
    };
  }
  const { user } = write;
  const { set, where } = pushedUpsertClauses(table);
  const incoming = snapshotValues(user);
  const stored = sql.join(mirroredValueColumns.map((key) => sql`${table[key]}`), sql`, `);
  return {
    insert: sql`insert into ${table} (${column("id")}, ${sql.join(mirroredValueColumns.map(column), sql`, `)},
          ${column("clerkUpdatedAt")}, ${column("lastSyncedAt")}, ${column("lastSyncOutcome")})
        select ${user.id}::text, ${sql.join(incoming, sql`, `)}, ${user.clerkUpdatedAtMs}::bigint, now(), 'created' where ${onlyIf}
        on conflict (${column("id")}) do update set ${assignments(table, set)} where ${where} ${outcome}`,
    // An equal clock with other values is `diverged`: two snapshots Clerk gave one clock (it
    // does not move `updated_at` for every change), so a payload alone cannot say which is newer.
    outcomeIfNotWritten: sql`coalesce((
        select case
          when ${table.deletedAt} is not null then 'deleted'
          when ${table.clerkUpdatedAt} = ${user.clerkUpdatedAtMs}::bigint and (${stored}) is distinct from (${sql.join(incoming, sql`, `)}) then 'diverged'
          when ${table.clerkUpdatedAt} = ${user.clerkUpdatedAtMs}::bigint then 'unchanged'
          else 'stale' end
        from ${table} where ${table.id} = ${user.id}::text), 'stale')`,
  };
}
