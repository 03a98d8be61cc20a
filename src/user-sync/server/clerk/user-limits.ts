/**
 * Clerk's own limit on one user's updates (`PATCH /v1/users/{id}`: 10 per 10 s), kept in
 * PostgreSQL for every app instance (`user_sync_clerk_user_limits`), so a user's edits are
 * refused here before they take a grant of the Clerk budget every user shares. A `Retry-After`
 * Clerk gave for one user stops that user's edits, on every instance, until it has passed,
 * without pausing anyone else.
 */
import { sql, type SQL } from "drizzle-orm";

import { asynchronousCommit, executeRows, type UserSyncDatabase } from "../database";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

/** Clerk's documented per-user limit on user updates. */
export const clerkUserUpdateLimit = { requests: 10, windowMs: 10_000 } as const;

export type ClerkUserSlot = { granted: true; grantedAtMs: number } | { granted: false; retryAfterMs: number };

export type ClerkUserLimitsOptions = {
  db: () => Promise<UserSyncDatabase>;
  /** The table (the host's `userSyncTables()`); default the plugin's own name. */
  table?: UserSyncTables["userSyncClerkUserLimits"];
  /** Writes per user per window (default Clerk's 10). */
  requests?: number;
  /** The window (default Clerk's 10 s). */
  windowMs?: number;
  /** Upper bound on one user's pause, whatever `Retry-After` says (default 600 s). */
  maxPauseSeconds?: number;
};

/**
 * A sliding window per user: a write is allowed while fewer than `requests` of the user's
 * writes were allowed in the last `windowMs` and no pause runs. One atomic UPDATE per decision,
 * on the database's clock, committed asynchronously (a crash may forget the last grants: a few
 * edits more reach Clerk, which answers them 429).
 */
export function createClerkUserLimits(options: ClerkUserLimitsOptions) {
  const table = options.table ?? defaultUserSyncTables.userSyncClerkUserLimits;
  const requests = options.requests ?? clerkUserUpdateLimit.requests;
  const windowMs = options.windowMs ?? clerkUserUpdateLimit.windowMs;
  const maxPauseMs = (options.maxPauseSeconds ?? 600) * 1000;
  const clockMs = sql`(extract(epoch from clock_timestamp()) * 1000)::float8`;

  const execute = <T>(statement: SQL) => executeRows<T>(options.db, statement);

  // The clock is read once the row lock is held; `recent` keeps the grants still in the window, oldest first.
  const decision = (userId: string) => sql`
    update ${table} as l
    set (granted_at_ms, last_granted, last_wait_ms) = (
      select case when d.ok then d.recent || d.t else d.recent end,
             d.ok,
             case when d.ok then 0 else greatest(l.paused_until_ms - d.t,
               case when cardinality(d.recent) >= ${requests}::int then d.recent[cardinality(d.recent) - ${requests}::int + 1] + ${windowMs}::float8 - d.t else 0 end) end
      from (
        select c.t, r.recent, (l.paused_until_ms <= c.t and cardinality(r.recent) < ${requests}::int) as ok
        from (select ${clockMs} as t) as c
        cross join lateral (
          select coalesce(array_agg(x order by x) filter (where x > c.t - ${windowMs}::float8), '{}'::float8[]) as recent
          from unnest(l.granted_at_ms) as x
        ) as r
      ) as d
    )
    from ${asynchronousCommit}
    where l.user_id = ${userId}
    returning last_granted as granted, last_wait_ms as wait_ms, granted_at_ms[cardinality(granted_at_ms)] as granted_at_ms`;

  type DecisionRow = { granted: boolean; wait_ms: number; granted_at_ms: number | null };

  return {
    /** A slot for one of the user's writes to Clerk, or how long until one frees up. */
    async take(userId: string): Promise<ClerkUserSlot> {
      let [row] = await execute<DecisionRow>(decision(userId));
      if (!row) {
        await execute(sql`insert into ${table} (user_id, granted_at_ms) values (${userId}, '{}'::float8[]) on conflict (user_id) do nothing`);
        [row] = await execute<DecisionRow>(decision(userId));
      }
      if (!row) throw new Error("The per-user Clerk limit row could not be created");
      if (row.granted) return { granted: true, grantedAtMs: Number(row.granted_at_ms) };
      return { granted: false, retryAfterMs: Math.max(1, Math.ceil(Number(row.wait_ms))) };
    },
    /** Returns a slot whose write never reached Clerk (the shared budget refused it). */
    async giveBack(userId: string, grantedAtMs: number): Promise<void> {
      await execute(sql`
        update ${table} set granted_at_ms = array_remove(granted_at_ms, ${grantedAtMs}::float8)
        from ${asynchronousCommit} where user_id = ${userId}`);
    },
    /** Clerk answered this user's write with 429: none of their writes goes out, on any instance, before `Retry-After` has passed. */
    async pause(userId: string, retryAfterSeconds: number): Promise<void> {
      const seconds = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds : 1;
      const pauseMs = Math.min(seconds * 1000, maxPauseMs);
      await execute(sql`
        insert into ${table} as l (user_id, granted_at_ms, paused_until_ms) values (${userId}, '{}'::float8[], ${clockMs} + ${pauseMs}::float8)
        on conflict (user_id) do update set paused_until_ms = greatest(l.paused_until_ms, excluded.paused_until_ms)`);
    },
  };
}

export type ClerkUserLimits = ReturnType<typeof createClerkUserLimits>;
