/**
 * `user.sync`'s cooldown claim, across instances: who fetches a user from Clerk within the
 * cooldown. With the Postgres budget, the claim, the read of the caller's row and the budget's
 * decision for the fetch are one statement (one round trip instead of two).
 */
import { and, eq, getTableColumns, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

import type { PostgresClerkBudget } from "./clerk/budget";
import { asynchronousCommit, type UserSyncDatabase } from "./database";
import { reusableQuery } from "./reusable-query";
import type { SyncedUsersTable, UserSyncTables } from "./schema";

export type FetchClaimOptions = {
  usersTable: PgTable;
  table: SyncedUsersTable;
  fetches: UserSyncTables["userSyncClerkFetches"];
  cooldownMs: number;
  /** Named prepared statements (the host's `preparedStatements`). */
  namedStatements: boolean;
  /** With it, the claim's statement also decides the fetch's Clerk call (`grant`). */
  budget?: { budget: PostgresClerkBudget; maxWaitMs: number };
};

/** The budget's decision for the claimed fetch: granted now or after `waitMs` (a reserved slot), or refused until `waitMs` has passed. */
export type FetchGrant = { granted: boolean; waitMs: number };

export type FetchClaim<TUser> = {
  /** The claim's time (the database's text, exact to the microsecond, to release it); null when another sync claimed it within the cooldown. */
  claimedAt: string | null;
  /** The caller's row (tombstone included), or null. */
  user: TUser | null;
  /** Null without a Postgres budget, when no fetch follows, or when the budget's row does not exist yet. */
  grant: FetchGrant | null;
};

type ClaimRow = { claimedAt: string | null; granted: boolean | null; waitMs: number | null; user: Record<string, unknown> | null };

/**
 * Claims this user's fetch from Clerk for the cooldown, across instances (database clock), and
 * reads the row in the same statement. A row missing or tombstoned is fetched anyway (another
 * instance may be creating it): the budget decides a call whenever a fetch follows, claimed or
 * not. The claim and the decision commit asynchronously: a database crash may forget the last
 * ones, which costs one more Clerk call, not a wrong answer.
 */
function prepareClaim(db: UserSyncDatabase, options: FetchClaimOptions) {
  const { fetches, table } = options;
  const userId = sql.placeholder("userId");
  const claim = db.$with("user_sync_claim").as(
    db
      .insert(fetches)
      .values({ userId, fetchedAt: sql`now()` })
      .onConflictDoUpdate({
        target: fetches.userId,
        set: { fetchedAt: sql`now()` },
        setWhere: sql`${fetches.fetchedAt} <= now() - (${sql.raw(String(options.cooldownMs))}::double precision * interval '1 millisecond')`,
      })
      .returning({ fetchedAt: fetches.fetchedAt }),
  );
  const fetchFollows = sql`(exists (select 1 from ${claim}) or not exists (select 1 from ${options.usersTable} where ${table.id} = ${userId} and ${table.deletedAt} is null))`;
  const grant = options.budget
    ? db.$with("user_sync_grant", { granted: sql<boolean>`granted` }).as(options.budget.budget.liveDecision(options.budget.maxWaitMs, fetchFollows))
    : null;
  const selection = {
    claimedAt: sql<string | null>`(select fetched_at::text from ${claim})`,
    granted: grant ? sql<boolean | null>`(select granted from ${grant})` : sql<null>`null::boolean`,
    waitMs: grant ? sql<number | null>`(select wait_ms from ${grant})` : sql<null>`null::float8`,
    user: getTableColumns(options.usersTable),
  };
  return reusableQuery(
    db
      .with(...(grant ? [claim, grant] : [claim]))
      .select(selection)
      .from(asynchronousCommit)
      .leftJoin(options.usersTable, eq(table.id, userId)),
    "claim",
    options.namedStatements,
  );
}

export function createFetchClaims<TUser>(options: FetchClaimOptions) {
  const queries = new WeakMap<UserSyncDatabase, ReturnType<typeof prepareClaim>>();
  return {
    async claim(db: UserSyncDatabase, userId: string): Promise<FetchClaim<TUser>> {
      let query = queries.get(db);
      if (!query) queries.set(db, (query = prepareClaim(db, options)));
      const [found] = (await query.execute({ userId })) as ClaimRow[];
      const grant = found?.granted == null ? null : { granted: Boolean(found.granted), waitMs: Number(found.waitMs ?? 0) };
      return { claimedAt: found?.claimedAt ?? null, user: (found?.user ?? null) as TUser | null, grant };
    },
    /** A claimed fetch that stored nothing (Clerk failed, the budget refused, the write failed). Never throws. */
    async release(db: () => Promise<UserSyncDatabase>, userId: string, claimedAt: string): Promise<void> {
      try {
        await (await db()).delete(options.fetches).where(and(eq(options.fetches.userId, userId), sql`${options.fetches.fetchedAt} = ${claimedAt}::timestamptz`));
      } catch {
        // Worst case the cooldown answers from the database until it passes.
      }
    },
  };
}
