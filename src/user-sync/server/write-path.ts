/**
 * The one write path for Clerk-owned user data. Client sync, webhooks, reconciliation and
 * profile updates all write through these two functions; nothing else writes the columns
 * of `userSyncColumns()`.
 *
 * Outcomes (`WriteOutcome`), also stored in `last_sync_outcome` by the write that had them:
 * - `created`   no row existed: inserted.
 * - `updated`   mirrored values changed (a newer Clerk clock, or a fetched snapshot at an equal clock).
 * - `touched`   a newer Clerk clock with no mirrored value changed (real Clerk bumps `updated_at` on
 *               every sign-in): the clock is recorded, `updated_at` is left alone.
 * - `unchanged` the same clock and the same values.
 * - `stale`     older than the stored clock: nothing applied.
 * - `deleted`   the row is, or became, a tombstone.
 * - `restored`  a tombstone written because the Backend API answered 404 (`client-sync`,
 *               `reconcile`) was lifted: a fetch proved the user exists with a newer clock.
 * Only `created`, `updated` and `restored` changed mirrored data (telemetry's self-heals).
 *
 * Invariants:
 * 1. Only Clerk-mirrored columns and sync bookkeeping are written. App-owned columns
 *    (`tier`, …) never appear in a SET list.
 * 2. Ordered by Clerk's clock, never by arrival: a snapshot applies only when its
 *    `clerk_updated_at` is strictly newer than the stored one, and then stores that clock even
 *    if no mirrored value changed (so A@t0, A@t2, B@t1 ends on A).
 * 3. Equal clocks: a pushed snapshot (a webhook payload) writes nothing, so a redelivery makes
 *    no new row version; a fetched snapshot (read from the Backend API just now) wins and
 *    writes the values when they differ (webhook Byron@T then fetch King@T ends on King).
 * 4. Deletion wins: no upsert writes over a tombstone, whatever its clock, except that a
 *    fetched snapshot strictly newer than a `client-sync`/`reconcile` tombstone restores the
 *    row (a 404 from a misconfigured API must not erase a user for good). A `webhook`
 *    tombstone (Clerk's own `user.deleted`) is final and upgrades a 404 tombstone.
 * 5. Each write is one atomic `INSERT … ON CONFLICT (id) DO UPDATE … WHERE … RETURNING`
 *    statement on the host's own table object (its schema included), so concurrent writers
 *    need no locks, never see a duplicate-key error, and get the host's full row back.
 * 6. A write that applies nothing makes no row version (an identical re-sync or redelivery is
 *    free for the host's table, its triggers and its replication). A fetched write that applies
 *    something also records `clerk_fetched_at`; `user.sync`'s cooldown lives in its own table.
 * 7. One round trip per write: the statement returns the row it wrote or, when its WHERE
 *    refused, the row as it stands.
 */
import { eq, getTableColumns, sql, type Placeholder, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

import type { ClerkUserSnapshot } from "./clerk/user-json";
import type { UserSyncDatabase } from "./database";
import type { TombstoneOrigin, WriteAuthority, WriteOutcome } from "./outcomes";
import { reusableQuery, type ReusableQuery } from "./reusable-query";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";

/** The row is the host's full row (every column of the host's table), or null when none exists. */
export type WriteResult = { outcome: WriteOutcome; row: SyncedUserRow | null };

/** How a write runs its statement: `namedStatements` only where the host opted in (no transaction pooler). */
export type WriteOptions = { namedStatements?: boolean };

/** The write path's column keys a guard compares. */
export type GuardColumn = MirroredColumn | "clerkUpdatedAt" | "deletedAt" | "deletedBy";

/** How a guard refers to one side of a comparison: the stored row, or the incoming snapshot. */
export type RowReference = (column: GuardColumn) => SQL;

/** The Clerk-owned values the mirror holds, in one order for every comparison and write. */
export const mirroredValueColumns = ["email", "phoneNumber", "firstName", "lastName", "username", "imageUrl", "banned", "locked"] as const;
export type MirroredColumn = (typeof mirroredValueColumns)[number];

/**
 * The guards of invariants 2–4, over any pair of row references: the single-row upsert
 * compares the stored row with `excluded`, reconciliation's batch also compares a mirror
 * row read by id with a page of Clerk's list before it writes. One definition for both.
 */
export function writeGuards(stored: RowReference, incoming: RowReference) {
  const differs = sql`(${sql.join(mirroredValueColumns.map(stored), sql`, `)})
    is distinct from (${sql.join(mirroredValueColumns.map(incoming), sql`, `)})`;
  const newer = sql`${stored("clerkUpdatedAt")} < ${incoming("clerkUpdatedAt")}`;
  const live = sql`${stored("deletedAt")} is null`;
  // A fetched snapshot lifts a tombstone a Backend API 404 wrote, never Clerk's own deletion.
  const restore = sql`(${stored("deletedAt")} is not null and ${stored("deletedBy")} in ('client-sync', 'reconcile') and ${newer})`;
  // A fetched snapshot's values apply: a restore, a newer clock, or an equal clock with other values.
  const take = sql`(${restore} or (${live} and (${newer} or (${stored("clerkUpdatedAt")} = ${incoming("clerkUpdatedAt")} and ${differs}))))`;
  return { differs, newer, live, restore, take };
}

const storedColumn = (table: SyncedUsersTable): RowReference => (column) => sql`${table[column]}`;
const excludedColumn = (table: SyncedUsersTable): RowReference => (column) => sql.raw(`excluded."${table[column].name}"`);

/**
 * `ON CONFLICT (id) DO UPDATE` of a fetched snapshot: the SET list and its WHERE. Only rows whose
 * values or clock change (or a restorable tombstone) are written: an identical fetch, a second
 * reconciliation run, make no row version.
 */
export function fetchedUpsertClauses(table: SyncedUsersTable) {
  const { differs, restore, take } = writeGuards(storedColumn(table), excludedColumn(table));
  const pick = (column: GuardColumn) => sql`case when ${take} then ${excludedColumn(table)(column)} else ${table[column]} end`;
  const set = {
    ...(Object.fromEntries(mirroredValueColumns.map((column) => [column, pick(column)])) as Record<MirroredColumn, SQL>),
    clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, excluded.clerk_updated_at)`,
    updatedAt: sql`case when ${restore} or (${take} and ${differs}) then now() else ${table.updatedAt} end`,
    deletedAt: sql`null`,
    deletedBy: sql`null`,
    clerkFetchedAt: sql`now()`,
    lastSyncedAt: sql`now()`,
    lastSyncOutcome: sql`case
      when ${restore} then 'restored'
      when ${take} and ${differs} then 'updated'
      when ${take} then 'touched'
      when ${table.clerkUpdatedAt} > excluded.clerk_updated_at then 'stale'
      else 'unchanged' end`,
  } satisfies Partial<Record<keyof SyncedUsersTable["_"]["columns"], SQL>>;
  return { set, where: take };
}

/**
 * `ON CONFLICT (id) DO UPDATE` of a pushed snapshot (a webhook payload): only a strictly newer
 * clock on a live row writes, and `updated_at` moves only when a mirrored value changed.
 */
export function pushedUpsertClauses(table: SyncedUsersTable) {
  const { differs, live, newer } = writeGuards(storedColumn(table), excludedColumn(table));
  const set = {
    ...(Object.fromEntries(mirroredValueColumns.map((column) => [column, excludedColumn(table)(column)])) as Record<MirroredColumn, SQL>),
    clerkUpdatedAt: sql`excluded.clerk_updated_at`,
    updatedAt: sql`case when ${differs} then now() else ${table.updatedAt} end`,
    lastSyncedAt: sql`now()`,
    lastSyncOutcome: sql`case when ${differs} then 'updated' else 'touched' end`,
  } satisfies Partial<Record<keyof SyncedUsersTable["_"]["columns"], SQL>>;
  return { set, where: sql`${live} and ${newer}` };
}

/** `SET a = …, b = …` of an ON CONFLICT clause, columns named by the host's table. */
export const assignments = (table: SyncedUsersTable, set: Partial<Record<keyof SyncedUsersTable["_"]["columns"], SQL>>) =>
  sql.join(
    Object.entries(set).map(([key, value]) => sql`${sql.identifier(table[key as keyof typeof set].name)} = ${value}`),
    sql`, `,
  );

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

/**
 * `ON CONFLICT (id) DO UPDATE` of a tombstone: PII cleared, the clock kept at the newest known,
 * `deleted_by` recorded. Applies to a live row, or to a 404 tombstone that Clerk's own deletion
 * event makes final.
 */
export function tombstoneClauses(table: SyncedUsersTable) {
  const set = {
    email: sql`null`,
    phoneNumber: sql`null`,
    firstName: sql`null`,
    lastName: sql`null`,
    username: sql`null`,
    imageUrl: sql`null`,
    banned: sql`false`,
    locked: sql`false`,
    clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, excluded.clerk_updated_at)`,
    deletedAt: sql`coalesce(${table.deletedAt}, now())`,
    deletedBy: sql`excluded.deleted_by`,
    updatedAt: sql`case when ${table.deletedAt} is null then now() else ${table.updatedAt} end`,
    lastSyncedAt: sql`now()`,
    lastSyncOutcome: sql`'deleted'`,
  } satisfies Partial<Record<keyof SyncedUsersTable["_"]["columns"], SQL>>;
  const where = sql`${table.deletedAt} is null or (excluded.deleted_by = 'webhook' and ${table.deletedBy} is distinct from 'webhook')`;
  return { set, where };
}

export async function upsertClerkUser(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  user: ClerkUserSnapshot,
  authority: WriteAuthority = "pushed",
  options: WriteOptions = {},
): Promise<WriteResult> {
  const fetched = authority === "fetched";
  const { written, row } = await writeOrRead(db, table, { kind: `upsert_${authority}`, named: options.namedStatements === true }, () => {
    const values = {
      id: sql.placeholder("id"),
      ...(Object.fromEntries(mirroredValueColumns.map((key) => [key, sql.placeholder(key)])) as Record<MirroredColumn, Placeholder>),
      clerkUpdatedAt: sql.placeholder("clerkUpdatedAt"),
      lastSyncedAt: sql`now()`,
      lastSyncOutcome: "created" as const,
      clerkFetchedAt: fetched ? sql`now()` : null,
    };
    // SET and WHERE expressions see the stored row as it was before this write.
    const { set, where } = fetched ? fetchedUpsertClauses(table) : pushedUpsertClauses(table);
    return db.insert(table).values(values).onConflictDoUpdate({ target: table.id, set, setWhere: where }).returning();
  }, {
    id: user.id,
    ...Object.fromEntries(mirroredValueColumns.map((key) => [key, user[key]])),
    clerkUpdatedAt: user.clerkUpdatedAtMs,
  });
  if (written) return { outcome: written.lastSyncOutcome ?? "updated", row: written };
  if (!row) return { outcome: "stale", row: null };
  if (row.deletedAt) return { outcome: "deleted", row };
  return { outcome: row.clerkUpdatedAt === user.clerkUpdatedAtMs ? "unchanged" : "stale", row };
}

/**
 * Tombstones a user: clears the mirrored PII, keeps the row and its app-owned columns, sets
 * `deleted_at` and `deleted_by`. `clerkClockMs` is the deletion's own time (a webhook's envelope
 * `timestamp`), or null when Clerk gave none (a Backend API 404): the row keeps the newest Clerk
 * clock it knows, so any later fetch of the user (a sign-in bumps Clerk's clock) is newer.
 */
export async function tombstoneClerkUser(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  userId: string,
  clerkClockMs: number | null,
  origin: TombstoneOrigin = "webhook",
  options: WriteOptions = {},
): Promise<WriteResult> {
  const { written, row } = await writeOrRead(
    db,
    table,
    { kind: "tombstone", named: options.namedStatements === true },
    () => {
      const tombstone = tombstoneClauses(table);
      return db
        .insert(table)
        .values({
          id: sql.placeholder("id"),
          clerkUpdatedAt: sql.placeholder("clerkUpdatedAt"),
          deletedAt: sql`now()`,
          deletedBy: sql.placeholder("deletedBy"),
          lastSyncedAt: sql`now()`,
          lastSyncOutcome: "deleted",
        })
        .onConflictDoUpdate({ target: table.id, set: tombstone.set, setWhere: tombstone.where })
        .returning();
    },
    { id: userId, clerkUpdatedAt: clerkClockMs ?? 0, deletedBy: origin },
  );
  // Already a tombstone: nothing written.
  return { outcome: "deleted", row: written ?? row };
}

/** An upsert on the users table with `.returning()` of every column, its values placeholders (`id` among them). */
type ReturningInsert = { getSQL(): SQL };

type WriteOrReadQuery = ReusableQuery<unknown[]>;

const writtenFlag = "user_sync_written";

/** Built once per database, table, kind of write and statement naming, then run with its values (reusable-query.ts). */
const writeOrReadQueries = new WeakMap<UserSyncDatabase, WeakMap<SyncedUsersTable, Map<string, WriteOrReadQuery>>>();

/**
 * Runs the upsert `build` returns (on placeholder `id`, returning the full row) and, in the same
 * statement, reads the row as it stands when the upsert's WHERE refused to write (RETURNING is
 * empty then). `written` is the row written, `row` the one read. The read sees the statement's
 * snapshot; a row inserted by a concurrent transaction after it was taken is read in a second
 * statement.
 */
async function writeOrRead(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  statement: { kind: string; named: boolean },
  build: () => ReturningInsert,
  values: Record<string, unknown> & { id: string },
): Promise<{ written: SyncedUserRow | null; row: SyncedUserRow | null }> {
  let byTable = writeOrReadQueries.get(db);
  if (!byTable) writeOrReadQueries.set(db, (byTable = new WeakMap<SyncedUsersTable, Map<string, WriteOrReadQuery>>()));
  let byKind = byTable.get(table);
  if (!byKind) byTable.set(table, (byKind = new Map<string, WriteOrReadQuery>()));
  const key = `${statement.kind}:${statement.named ? "named" : "unnamed"}`;
  let query = byKind.get(key);
  if (!query) {
    query = prepareWriteOrRead(db, table, statement, build());
    byKind.set(key, query);
  }
  const [found] = (await query.execute(values)) as (SyncedUserRow & { [writtenFlag]: boolean })[];
  if (!found) {
    const [row] = await db.select().from(table).where(eq(table.id, values.id));
    return { written: null, row: row ?? null };
  }
  const { [writtenFlag]: written, ...row } = found;
  return written ? { written: row, row } : { written: null, row };
}

function prepareWriteOrRead(db: UserSyncDatabase, table: SyncedUsersTable, statement: { kind: string; named: boolean }, insert: ReturningInsert): WriteOrReadQuery {
  const columns = getTableColumns(table);
  const upsert = db.$with("user_sync_upsert", columns).as(insert.getSQL());
  type Selection = Record<string, PgColumn | SQL.Aliased>;
  // The same columns in the same order on both sides of the UNION.
  const fromUpsert: Selection = Object.fromEntries(Object.keys(columns).map((key) => [key, (upsert as unknown as Selection)[key]!]));
  fromUpsert[writtenFlag] = sql<boolean>`true`.as(writtenFlag);
  const fromTable: Selection = { ...columns, [writtenFlag]: sql<boolean>`false`.as(writtenFlag) };
  // The UNION sits in a subquery: PostgreSQL wants the data-modifying WITH at the top level.
  const either = db
    .select(fromUpsert)
    .from(upsert)
    .unionAll(
      db
        .select(fromTable)
        .from(table)
        .where(sql`${table.id} = ${sql.placeholder("id")} and not exists (select 1 from ${upsert})`),
    )
    .as("user_sync_row");
  return reusableQuery(db.with(upsert).select().from(either), statement.kind, statement.named);
}
