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
import { sql, type Placeholder } from "drizzle-orm";

import type { ClerkUserSnapshot } from "./clerk/user-json";
import type { UserSyncDatabase } from "./database";
import type { TombstoneOrigin, WriteAuthority, WriteOutcome } from "./outcomes";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";
import { fetchedUpsertClauses, mirroredValueColumns, pushedUpsertClauses, tombstoneClauses, type MirroredColumn } from "./write/clauses";
import { writeOrRead } from "./write/write-or-read";

export {
  assignments,
  fetchedUpsertClauses,
  mirroredValueColumns,
  tombstoneClauses,
  writeGuards,
  type GuardColumn,
  type RowReference,
} from "./write/clauses";
export { pushedWriteStatement, type PushedWrite } from "./write/pushed-statement";

/** The row is the host's full row (every column of the host's table), or null when none exists. */
export type WriteResult = { outcome: WriteOutcome; row: SyncedUserRow | null };

/** How a write runs its statement: `namedStatements` only where the host opted in (no transaction pooler). */
export type WriteOptions = { namedStatements?: boolean };

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
