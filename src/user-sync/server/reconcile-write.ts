import { inArray, sql, and, isNull } from "drizzle-orm";

import type { ClerkUserSnapshot } from "./clerk-user";
import type { SyncedUserRow, SyncedUsersTable } from "./schema";
import type { UserSyncDatabase } from "./write-path";

/** The mirrored values, by the field names a reconciliation diff reports. */
const mirroredFields = ["email", "firstName", "lastName", "username", "imageUrl"] as const;

/** The mirrored fields whose stored value differs from Clerk's (names only, never values). */
export function mirroredFieldsDiffering(row: SyncedUserRow, snapshot: ClerkUserSnapshot): string[] {
  return mirroredFields.filter((field) => row[field] !== snapshot[field]);
}

/**
 * Reconciliation's batch write: one multi-row `INSERT … ON CONFLICT (id) DO UPDATE … WHERE`
 * with the write path's guards (only Clerk-owned columns; applied only when Clerk's clock is
 * newer, or equal with different values, since the list is an authoritative read; tombstones
 * never written; an identical row never rewritten). Returns what it wrote per user id; a user
 * missing from the map was refused by the guard (a concurrent writer was newer).
 */
export async function reconcileUpsertUsers(
  db: UserSyncDatabase,
  table: SyncedUsersTable,
  snapshots: ClerkUserSnapshot[],
): Promise<Map<string, "created" | "updated">> {
  if (!snapshots.length) return new Map();
  // Rows are locked in id order, so two batches can never deadlock on each other.
  const sorted = [...snapshots].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const written = await db
    .insert(table)
    .values(
      sorted.map((user) => ({
        id: user.id,
        email: user.email,
        firstName: user.firstName,
        lastName: user.lastName,
        username: user.username,
        imageUrl: user.imageUrl,
        clerkUpdatedAt: user.clerkUpdatedAtMs,
        lastSyncedAt: sql`now()`,
      })),
    )
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
      setWhere: sql`${table.deletedAt} is null and (${table.clerkUpdatedAt} < excluded.clerk_updated_at or (${table.clerkUpdatedAt} = excluded.clerk_updated_at and (${table.email}, ${table.firstName}, ${table.lastName}, ${table.username}, ${table.imageUrl}) is distinct from (excluded.email, excluded.first_name, excluded.last_name, excluded.username, excluded.image_url)))`,
    })
    .returning({ id: table.id, inserted: sql<boolean>`(xmax = 0)` });
  return new Map(written.map((row) => [row.id, row.inserted ? "created" : "updated"]));
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
  const written = await db
    .update(table)
    .set({
      email: null,
      firstName: null,
      lastName: null,
      username: null,
      imageUrl: null,
      clerkUpdatedAt: sql`greatest(${table.clerkUpdatedAt}, ${clerkClockMs}::bigint)`,
      deletedAt: sql`now()`,
      updatedAt: sql`now()`,
      lastSyncedAt: sql`now()`,
    })
    .where(and(inArray(table.id, userIds), isNull(table.deletedAt)))
    .returning({ id: table.id });
  return written.map((row) => row.id);
}
