import { eq, getTableColumns, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

import type { UserSyncDatabase } from "../database";
import { reusableQuery, type ReusableQuery } from "../reusable-query";
import type { SyncedUserRow, SyncedUsersTable } from "../schema";

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
export async function writeOrRead(
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
