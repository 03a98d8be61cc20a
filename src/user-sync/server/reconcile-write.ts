import { getTableName, sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

import type { ClerkUserSnapshot } from "./clerk-user";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";
import type { UserSyncDatabase } from "./write-path";

/** The mirrored values, by the field names a reconciliation diff reports. */
const mirroredFields = ["email", "firstName", "lastName", "username", "imageUrl"] as const;

/** What reconciliation compares of a mirror row. */
export type MirrorRow = Pick<SyncedUserRow, (typeof mirroredFields)[number]> & { clerkUpdatedAt: number; deleted: boolean };

/** The mirrored fields whose stored value differs from Clerk's (names only, never values). */
export function mirroredFieldsDiffering(row: MirrorRow, snapshot: ClerkUserSnapshot): string[] {
  return mirroredFields.filter((field) => row[field] !== snapshot[field]);
}

/**
 * A PostgreSQL array literal, sent as one text parameter and cast in SQL: a 500-row batch is a
 * handful of parameters whatever the driver (postgres.js sends a JS array of strings as
 * "a,b", and building 4,000 separate parameters costs more than the statement itself).
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  return `{${values
    .map((value) => (value === null ? "NULL" : typeof value === "number" ? String(value) : `"${value.replace(/[\\"]/g, "\\$&")}"`))
    .join(",")}}`;
}

function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

const column = (table: SyncedUsersTable, key: keyof SyncedUsersTable["_"]["columns"]) => sql.identifier(table[key].name);

/**
 * Records `userIds` as walked by the run and reads the mirror rows of the ones walked for the
 * first time, in one statement. Returns those first-seen ids and their rows (absent: missing).
 */
export async function markSeenAndReadMirror(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  seen: { table: PgTable; runId: string; runIdColumn: string; userIdColumn: string },
  userIds: string[],
): Promise<{ fresh: Set<string>; rows: Map<string, MirrorRow> }> {
  if (!userIds.length) return { fresh: new Set(), rows: new Map() };
  const c = (key: Parameters<typeof column>[1]) => sql`u.${column(table, key)}`;
  const result = await db.execute(sql`
    with fresh as (
      insert into ${seen.table} (${sql.identifier(seen.runIdColumn)}, ${sql.identifier(seen.userIdColumn)})
      select ${seen.runId}, unnest(${pgArray(userIds)}::text[])
      on conflict do nothing
      returning ${sql.identifier(seen.userIdColumn)} as user_id
    )
    select fresh.user_id, ${c("id")} is not null as found, ${c("email")} as email, ${c("firstName")} as first_name,
      ${c("lastName")} as last_name, ${c("username")} as username, ${c("imageUrl")} as image_url,
      ${c("clerkUpdatedAt")}::text as clerk_updated_at, ${c("deletedAt")} is not null as deleted
    from fresh left join ${table} as u on ${c("id")} = fresh.user_id`);
  type Row = {
    user_id: string;
    found: boolean;
    email: string | null;
    first_name: string | null;
    last_name: string | null;
    username: string | null;
    image_url: string | null;
    clerk_updated_at: string | null;
    deleted: boolean;
  };
  const fresh = new Set<string>();
  const rows = new Map<string, MirrorRow>();
  for (const row of rowsOf<Row>(result)) {
    fresh.add(row.user_id);
    if (!row.found) continue;
    rows.set(row.user_id, {
      email: row.email,
      firstName: row.first_name,
      lastName: row.last_name,
      username: row.username,
      imageUrl: row.image_url,
      clerkUpdatedAt: Number(row.clerk_updated_at),
      deleted: row.deleted,
    });
  }
  return { fresh, rows };
}

/**
 * Reconciliation's batch write: one multi-row `INSERT … SELECT FROM unnest(…) ON CONFLICT (id)
 * DO UPDATE … WHERE` with the write path's guards: only Clerk-owned columns; applied only when
 * Clerk's clock is newer, or equal with different values (the list is an authoritative read of
 * Clerk's current state); tombstones never written; an identical row never rewritten. Returns
 * what it wrote per user id; a user missing from the map was refused by the guard (a
 * concurrent writer was newer, or the row is a tombstone).
 */
export async function reconcileUpsertUsers(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  snapshots: ClerkUserSnapshot[],
): Promise<Map<string, "created" | "updated">> {
  if (!snapshots.length) return new Map();
  // Rows are locked in id order, so two batches can never deadlock on each other.
  const sorted = [...snapshots].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const c = (key: Parameters<typeof column>[1]) => column(table, key);
  const stored = (key: Parameters<typeof column>[1]) => sql`${sql.identifier(getTableName(table))}.${c(key)}`;
  const mirrored: SQL = sql`(${stored("email")}, ${stored("firstName")}, ${stored("lastName")}, ${stored("username")}, ${stored("imageUrl")})`;
  const incoming: SQL = sql`(excluded.${c("email")}, excluded.${c("firstName")}, excluded.${c("lastName")}, excluded.${c("username")}, excluded.${c("imageUrl")})`;
  const result = await db.execute(sql`
    insert into ${table} (${c("id")}, ${c("email")}, ${c("firstName")}, ${c("lastName")}, ${c("username")}, ${c("imageUrl")}, ${c("clerkUpdatedAt")}, ${c("lastSyncedAt")})
    select u.id, u.email, u.first_name, u.last_name, u.username, u.image_url, u.clerk_updated_at, now()
    from unnest(
      ${pgArray(sorted.map((u) => u.id))}::text[],
      ${pgArray(sorted.map((u) => u.email))}::text[],
      ${pgArray(sorted.map((u) => u.firstName))}::text[],
      ${pgArray(sorted.map((u) => u.lastName))}::text[],
      ${pgArray(sorted.map((u) => u.username))}::text[],
      ${pgArray(sorted.map((u) => u.imageUrl))}::text[],
      ${pgArray(sorted.map((u) => u.clerkUpdatedAtMs))}::bigint[]
    ) as u(id, email, first_name, last_name, username, image_url, clerk_updated_at)
    on conflict (${c("id")}) do update set
      ${c("email")} = excluded.${c("email")},
      ${c("firstName")} = excluded.${c("firstName")},
      ${c("lastName")} = excluded.${c("lastName")},
      ${c("username")} = excluded.${c("username")},
      ${c("imageUrl")} = excluded.${c("imageUrl")},
      ${c("clerkUpdatedAt")} = excluded.${c("clerkUpdatedAt")},
      ${c("updatedAt")} = now(),
      ${c("lastSyncedAt")} = now()
    where ${stored("deletedAt")} is null
      and (${stored("clerkUpdatedAt")} < excluded.${c("clerkUpdatedAt")}
        or (${stored("clerkUpdatedAt")} = excluded.${c("clerkUpdatedAt")} and ${mirrored} is distinct from ${incoming}))
    returning ${c("id")} as id, (xmax = 0) as inserted`);
  return new Map(rowsOf<{ id: string; inserted: boolean }>(result).map((row) => [row.id, row.inserted ? "created" : "updated"]));
}

/**
 * Tombstones users Clerk confirmed gone, as the write path does: PII cleared, app-owned
 * columns kept, the clock moved to at least `clerkClockMs`; rows already tombstoned are not
 * written again. Returns the ids it tombstoned.
 */
export async function reconcileTombstoneUsers(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  userIds: string[],
  clerkClockMs: number,
): Promise<string[]> {
  if (!userIds.length) return [];
  const c = (key: Parameters<typeof column>[1]) => column(table, key);
  const result = await db.execute(sql`
    update ${table} set
      ${c("email")} = null, ${c("firstName")} = null, ${c("lastName")} = null, ${c("username")} = null, ${c("imageUrl")} = null,
      ${c("clerkUpdatedAt")} = greatest(${c("clerkUpdatedAt")}, ${clerkClockMs}::bigint),
      ${c("deletedAt")} = now(), ${c("updatedAt")} = now(), ${c("lastSyncedAt")} = now()
    where ${c("id")} = any(${pgArray([...userIds].sort())}::text[]) and ${c("deletedAt")} is null
    returning ${c("id")} as id`);
  return rowsOf<{ id: string }>(result).map((row) => row.id);
}
