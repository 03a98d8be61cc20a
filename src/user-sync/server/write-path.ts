/**
 * The one write path for Clerk-owned user data. Client sync, webhooks, reconciliation and
 * profile updates all write through these two functions; nothing else writes the columns
 * of `userSyncColumns()`.
 *
 * Invariants:
 * 1. Only Clerk-mirrored columns and sync bookkeeping are written. App-owned columns
 *    (`tier`, …) never appear in a SET list.
 * 2. Ordered by Clerk's clock, never by arrival: an upsert applies only when its
 *    `clerk_updated_at` is strictly newer than the stored one, and then stores that clock even
 *    if no mirrored value changed (so A@t0, A@t2, B@t1 ends on A).
 * 3. An equal clock writes nothing at all: an identical re-sync makes no new row version.
 * 4. Deletion wins: a tombstone (`deleted_at`, PII cleared) is never written by an upsert
 *    again, whatever its clock. A tombstone may arrive before the row exists.
 * 5. Each write is one atomic `INSERT … ON CONFLICT (id) DO UPDATE … WHERE` statement, so
 *    concurrent writers need no locks and never see a duplicate-key error.
 */
import { eq, getTableColumns, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

import type { ClerkUserSnapshot } from "./clerk-user";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any host schema
export type UserSyncDatabase = PgDatabase<PgQueryResultHKT, any>;

export type WriteOutcome = "created" | "updated" | "unchanged" | "stale" | "deleted";

export type WriteResult = { outcome: WriteOutcome; row: SyncedUserRow | null };

export async function upsertClerkUser(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  user: ClerkUserSnapshot,
): Promise<WriteResult> {
  const values = {
    id: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    username: user.username,
    imageUrl: user.imageUrl,
    clerkUpdatedAt: user.clerkUpdatedAtMs,
  };
  const [written] = await db
    .insert(table)
    .values({ ...values, lastSyncedAt: sql`now()` })
    .onConflictDoUpdate({
      target: table.id,
      set: {
        email: sql`excluded.email`,
        firstName: sql`excluded.first_name`,
        lastName: sql`excluded.last_name`,
        username: sql`excluded.username`,
        imageUrl: sql`excluded.image_url`,
        clerkUpdatedAt: sql`excluded.clerk_updated_at`,
        updatedAt: sql`now()`,
        lastSyncedAt: sql`now()`,
      },
      setWhere: sql`${table.deletedAt} is null and ${table.clerkUpdatedAt} < excluded.clerk_updated_at`,
    })
    .returning({ ...getTableColumns(table), inserted: sql<boolean>`(xmax = 0)` });
  // RETURNING is empty when the row was locked but the WHERE refused the update.
  if (written) {
    const { inserted, ...row } = written;
    return { outcome: inserted ? "created" : "updated", row };
  }
  const row = await readRow(db, table, user.id);
  if (!row) return { outcome: "stale", row: null };
  if (row.deletedAt) return { outcome: "deleted", row };
  return { outcome: row.clerkUpdatedAt === user.clerkUpdatedAtMs ? "unchanged" : "stale", row };
}

/**
 * Tombstones a user: clears the mirrored PII, keeps the row and its app-owned columns, sets
 * `deleted_at`. `clerkClockMs` is the deletion's own time (a webhook's envelope `timestamp`).
 */
export async function tombstoneClerkUser(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  userId: string,
  clerkClockMs: number,
): Promise<WriteResult> {
  const [written] = await db
    .insert(table)
    .values({ id: userId, clerkUpdatedAt: clerkClockMs, deletedAt: sql`now()`, lastSyncedAt: sql`now()` })
    .onConflictDoUpdate({
      target: table.id,
      set: {
        email: null,
        firstName: null,
        lastName: null,
        username: null,
        imageUrl: null,
        clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, excluded.clerk_updated_at)`,
        deletedAt: sql`now()`,
        updatedAt: sql`now()`,
        lastSyncedAt: sql`now()`,
      },
      setWhere: sql`${table.deletedAt} is null`,
    })
    .returning();
  if (written) return { outcome: "deleted", row: written };
  // Already a tombstone: nothing to write.
  return { outcome: "deleted", row: await readRow(db, table, userId) };
}

async function readRow(db: UserSyncDatabase, table: SyncedUsersTable, userId: string) {
  const [row] = await db.select().from(table).where(eq(table.id, userId));
  return row ?? null;
}
