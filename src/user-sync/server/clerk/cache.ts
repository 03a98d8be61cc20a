/**
 * Values read from Clerk's Backend API and shared by every app instance for a short period
 * (`user_sync_clerk_cache`): a user's admin role, Clerk's user count. A miss claims the key in
 * the same statement that reads it, so concurrent misses on every instance make one Clerk call:
 * the claimant reads Clerk and stores the value; the others look again until it is there (or
 * the claim lapses and one of them takes it). In a process, concurrent reads of a key share one
 * promise. All times are the database's clock.
 */
import { sql, type SQL } from "drizzle-orm";

import { asynchronousCommit, executeRows, type UserSyncDatabase } from "../database";
import { UserSyncError } from "../errors";
import { defaultUserSyncTables, type UserSyncTables } from "../schema";

/** A value and when it was read from Clerk (database clock). */
export type ClerkCacheEntry<T> = { value: T; readAt: Date };

export type ClerkReadCacheOptions = {
  db: () => Promise<UserSyncDatabase>;
  /** The cache table (the host's `userSyncTables()`); default the plugin's own name. */
  table?: UserSyncTables["userSyncClerkCache"];
  /** After a failed read, no instance asks Clerk for that key again before this has passed (default 1000). */
  failureBackoffMs?: number;
  /** How often a caller waiting for another instance's read looks again (default 50). */
  pollMs?: number;
};

export type ClerkCacheRead = {
  /** A value read less than this long ago is used as it is (0: always read, still one read at a time). */
  periodMs: number;
  /** The longest one read may take (its budget wait and timeout): a claim older than this is taken over. */
  claimMs: number;
  /** A value read before this (database clock) is stale whatever its age, e.g. Clerk's count read before a reconciliation finished. */
  readAfter?: Date | null;
};

type LookRow = { claimed: boolean; value: unknown; read_at: Date | string | null; fresh: boolean | null; claim_left_ms: number | null };

export function createClerkReadCache(options: ClerkReadCacheOptions) {
  const table = options.table ?? defaultUserSyncTables.userSyncClerkCache;
  const failureBackoffMs = options.failureBackoffMs ?? 1000;
  const pollMs = options.pollMs ?? 50;
  const inFlight = new Map<string, Promise<ClerkCacheEntry<unknown>>>();
  const milliseconds = (ms: number) => sql`(${ms}::float8 * interval '1 millisecond')`;

  const execute = <T>(statement: SQL) => executeRows<T>(options.db, statement);

  /** The entry as it stands, and whether this caller now holds the claim to read it from Clerk. */
  async function lookOrClaim(key: string, read: ClerkCacheRead): Promise<LookRow> {
    // greatest() skips a null readAfter.
    const freshSince = sql`greatest(now() - ${milliseconds(read.periodMs)}, ${read.readAfter?.toISOString() ?? null}::timestamptz)`;
    const fresh = sql`e.read_at > ${freshSince}`;
    const [row] = await execute<LookRow>(sql`
      with e as (select value, read_at, claimed_until from ${table} where key = ${key}),
      claim as (
        insert into ${table} as c (key, claimed_until)
        select ${key}, now() + ${milliseconds(read.claimMs)}
        where not exists (select 1 from e where ${fresh})
        on conflict (key) do update set claimed_until = excluded.claimed_until
        where (c.read_at is null or c.read_at <= ${freshSince})
          and (c.claimed_until is null or c.claimed_until <= now())
        returning 1
      )
      select exists (select 1 from claim) as claimed, e.value, e.read_at, ${fresh} as fresh,
             greatest(0, extract(epoch from e.claimed_until - now()) * 1000)::float8 as claim_left_ms
      from ${asynchronousCommit} left join e on true`);
    if (!row) throw new Error("The Clerk cache statement returned no row");
    return row;
  }

  async function store(key: string, value: unknown): Promise<Date> {
    const [row] = await execute<{ read_at: Date | string }>(sql`
      insert into ${table} as c (key, value, read_at, claimed_until)
      select ${key}, ${JSON.stringify(value)}::jsonb, now(), null
      from ${asynchronousCommit}
      on conflict (key) do update set value = excluded.value, read_at = excluded.read_at, claimed_until = null
      returning read_at`);
    return new Date(row?.read_at ?? Date.now());
  }

  async function releaseAfterFailure(key: string) {
    try {
      await execute(sql`
        update ${table} set claimed_until = now() + ${milliseconds(failureBackoffMs)}
        from ${asynchronousCommit} where key = ${key}`);
    } catch {
      // The claim lapses by itself.
    }
  }

  async function readThrough<T>(key: string, read: ClerkCacheRead, load: () => Promise<T>): Promise<ClerkCacheEntry<T>> {
    // A claimant that vanished is replaced after claimMs; waiting longer than two claims means something else is wrong.
    const deadlineMs = Date.now() + 2 * read.claimMs + failureBackoffMs;
    for (;;) {
      const row = await lookOrClaim(key, read);
      if (row.fresh) return { value: row.value as T, readAt: new Date(row.read_at!) };
      if (row.claimed) {
        let value: T;
        try {
          value = await load();
        } catch (error) {
          await releaseAfterFailure(key);
          throw error;
        }
        return { value, readAt: await store(key, value) };
      }
      // Another instance is reading it (or its read failed a moment ago): look again shortly.
      if (Date.now() >= deadlineMs) {
        throw new UserSyncError("CLERK_TIMEOUT", "Another instance's read of the same value from Clerk did not finish in time");
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(pollMs, row.claim_left_ms ?? pollMs))));
    }
  }

  return {
    /**
     * The value under `key`: from PostgreSQL when read less than `periodMs` ago by any
     * instance, else from `load` (one caller at a time across instances). `load`'s failure is
     * thrown to the callers that shared it; for `failureBackoffMs` nobody calls Clerk for the key.
     */
    read<T>(key: string, read: ClerkCacheRead, load: () => Promise<T>): Promise<ClerkCacheEntry<T>> {
      const running = inFlight.get(key);
      if (running) return running as Promise<ClerkCacheEntry<T>>;
      const started = readThrough(key, read, load).finally(() => inFlight.delete(key));
      inFlight.set(key, started);
      return started;
    },
  };
}

export type ClerkReadCache = ReturnType<typeof createClerkReadCache>;
