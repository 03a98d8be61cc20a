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
 * 6. A fetched write always records `clerk_fetched_at` (the database's clock), even when it
 *    applies nothing: it is the cooldown's state, shared by every app instance.
 */
import { eq, sql } from "drizzle-orm";
import type { PgColumn, PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

import type { ClerkUserSnapshot } from "./clerk-user";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any host schema
export type UserSyncDatabase = PgDatabase<PgQueryResultHKT, any>;

export type WriteOutcome = "created" | "updated" | "touched" | "unchanged" | "stale" | "deleted" | "restored";

/** Outcomes that created or changed mirrored data: what telemetry counts as a self-heal. */
export const dataChangingOutcomes: ReadonlySet<WriteOutcome> = new Set(["created", "updated", "restored"]);

/**
 * Where a snapshot came from. `fetched`: read from the Backend API by this process just now
 * (authoritative, wins an equal clock). `pushed`: a webhook payload (may be a replay).
 */
export type WriteAuthority = "fetched" | "pushed";

/** Who wrote a tombstone; only `webhook` (Clerk's own `user.deleted`) is final. */
export type TombstoneOrigin = "webhook" | "client-sync" | "reconcile";

/** The row is the host's full row (every column of the host's table), or null when none exists. */
export type WriteResult = { outcome: WriteOutcome; row: SyncedUserRow | null };

export async function upsertClerkUser(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  user: ClerkUserSnapshot,
  authority: WriteAuthority = "pushed",
): Promise<WriteResult> {
  const fetched = authority === "fetched";
  const values = {
    id: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    username: user.username,
    imageUrl: user.imageUrl,
    clerkUpdatedAt: user.clerkUpdatedAtMs,
    lastSyncedAt: sql`now()`,
    lastSyncOutcome: "created" as const,
    clerkFetchedAt: fetched ? sql`now()` : null,
  };
  // SET and WHERE expressions see the stored row as it was before this write.
  const differs = sql`(${table.email}, ${table.firstName}, ${table.lastName}, ${table.username}, ${table.imageUrl})
    is distinct from (excluded.email, excluded.first_name, excluded.last_name, excluded.username, excluded.image_url)`;
  const newer = sql`${table.clerkUpdatedAt} < excluded.clerk_updated_at`;
  const live = sql`${table.deletedAt} is null`;

  let set: Record<string, unknown>;
  let where: ReturnType<typeof sql>;
  if (!fetched) {
    where = sql`${live} and ${newer}`;
    set = {
      email: sql`excluded.email`,
      firstName: sql`excluded.first_name`,
      lastName: sql`excluded.last_name`,
      username: sql`excluded.username`,
      imageUrl: sql`excluded.image_url`,
      clerkUpdatedAt: sql`excluded.clerk_updated_at`,
      updatedAt: sql`case when ${differs} then now() else ${table.updatedAt} end`,
      lastSyncedAt: sql`now()`,
      lastSyncOutcome: sql`case when ${differs} then 'updated' else 'touched' end`,
    };
  } else {
    const restore = sql`(${table.deletedAt} is not null and ${table.deletedBy} in ('client-sync', 'reconcile') and ${newer})`;
    const take = sql`(${restore} or (${live} and (${newer} or (${table.clerkUpdatedAt} = excluded.clerk_updated_at and ${differs}))))`;
    const pick = (column: string, stored: PgColumn) =>
      sql`case when ${take} then ${sql.raw(`excluded.${column}`)} else ${stored} end`;
    where = sql`${live} or ${restore}`;
    set = {
      email: pick("email", table.email),
      firstName: pick("first_name", table.firstName),
      lastName: pick("last_name", table.lastName),
      username: pick("username", table.username),
      imageUrl: pick("image_url", table.imageUrl),
      clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, excluded.clerk_updated_at)`,
      updatedAt: sql`case when ${restore} or (${take} and ${differs}) then now() else ${table.updatedAt} end`,
      deletedAt: null,
      deletedBy: null,
      clerkFetchedAt: sql`now()`,
      lastSyncedAt: sql`now()`,
      lastSyncOutcome: sql`case
        when ${restore} then 'restored'
        when ${take} and ${differs} then 'updated'
        when ${take} then 'touched'
        when ${table.clerkUpdatedAt} > excluded.clerk_updated_at then 'stale'
        else 'unchanged' end`,
    };
  }

  const [written] = await db
    .insert(table)
    .values(values)
    .onConflictDoUpdate({ target: table.id, set, setWhere: where })
    .returning();
  if (written) return { outcome: written.lastSyncOutcome ?? "updated", row: written };
  // RETURNING is empty when the row was locked but the WHERE refused the write.
  const row = await readRow(db, table, user.id);
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
): Promise<WriteResult> {
  const [written] = await db
    .insert(table)
    .values({
      id: userId,
      clerkUpdatedAt: clerkClockMs ?? 0,
      deletedAt: sql`now()`,
      deletedBy: origin,
      lastSyncedAt: sql`now()`,
      lastSyncOutcome: "deleted",
    })
    .onConflictDoUpdate({
      target: table.id,
      set: {
        email: null,
        firstName: null,
        lastName: null,
        username: null,
        imageUrl: null,
        clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, excluded.clerk_updated_at)`,
        deletedAt: sql`coalesce(${table.deletedAt}, now())`,
        deletedBy: sql`excluded.deleted_by`,
        updatedAt: sql`case when ${table.deletedAt} is null then now() else ${table.updatedAt} end`,
        lastSyncedAt: sql`now()`,
        lastSyncOutcome: "deleted",
      },
      // A live row, or a 404 tombstone that Clerk's own deletion event makes final.
      setWhere: sql`${table.deletedAt} is null or (excluded.deleted_by = 'webhook' and ${table.deletedBy} is distinct from 'webhook')`,
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
