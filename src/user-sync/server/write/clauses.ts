/**
 * The SQL of write-path.ts's invariants 2–4: the guards comparing a stored row with an incoming
 * snapshot, and the `ON CONFLICT (id) DO UPDATE` clauses (SET list and WHERE) of each kind of write.
 */
import { sql, type SQL } from "drizzle-orm";

import type { SyncedUsersTable } from "../schema";

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
