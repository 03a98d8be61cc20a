import type { User } from "@clerk/backend";
import { eq, getTableName } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";

import { snapshotFromBackendUser, type ClerkUserSnapshot } from "./clerk-user";
import { fromClerkFailure, isClerkNotFound, UserSyncError } from "./errors";
import { syncedUsersTable } from "./schema";
import { tombstoneClerkUser, upsertClerkUser, type UserSyncDatabase, type WriteOutcome, type WriteResult } from "./write-path";

/** The part of Clerk's Backend API client user sync calls. `clerkClient()` satisfies it. */
export type ClerkBackendClient = {
  users: { getUser(userId: string): Promise<User> };
};

/** Which writer produced a write: telemetry tells how often the self-heal path fires. */
export type UserSyncSource = "client-sync" | "webhook" | "reconcile" | "profile-update";

/** Emitted after every write attempt. Carries no user data. */
export type UserSyncEvent = {
  source: UserSyncSource;
  outcome: WriteOutcome | "error";
  /** False when `user.sync` answered from its cooldown without calling Clerk. */
  clerkFetched: boolean;
  durationMs: number;
  errorCode?: string;
};

export type UsersTable = PgTable & { id: PgColumn };

/** Calls `onEvent`, swallowing its failures: telemetry must never break a write. */
export function guardedEmitter(onEvent: ((event: UserSyncEvent) => void) | undefined) {
  return (event: UserSyncEvent) => {
    try {
      onEvent?.(event);
    } catch {
      // Ignored on purpose.
    }
  };
}

export type UserSyncOptions<TUsers extends UsersTable> = {
  /** The host's database (postgres.js or PGlite drizzle instance). */
  db: () => Promise<UserSyncDatabase>;
  /** The host's users table, built with `userSyncColumns()`. */
  users: TUsers;
  /** Clerk's Backend API client, e.g. `clerkClient` from `@clerk/nextjs/server`. */
  clerk: () => Promise<ClerkBackendClient>;
  /** A user fetched from Clerk less than this long ago is answered from the database. */
  cooldownSeconds?: number;
  /** Bound on one Backend API call. */
  clerkTimeoutMs?: number;
  onEvent?: (event: UserSyncEvent) => void;
  /** Clock, for tests. */
  now?: () => number;
};

export type SyncResult<TUser> = { outcome: WriteOutcome; user: TUser | null };

export function createUserSyncService<TUsers extends UsersTable>(options: UserSyncOptions<TUsers>) {
  type HostUser = TUsers["$inferSelect"];
  const table = syncedUsersTable(getTableName(options.users));
  const cooldownMs = (options.cooldownSeconds ?? 10) * 1000;
  const clerkTimeoutMs = options.clerkTimeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const inFlight = new Map<string, Promise<SyncResult<HostUser>>>();
  // Only authoritative fetches from Clerk land here; webhook writes may carry stale data.
  const lastFetchedAtMs = new Map<string, number>();

  const emit = guardedEmitter(options.onEvent);

  /** The caller's row, or null when it is missing or a tombstone. */
  async function readLiveUser(userId: string): Promise<HostUser | null> {
    const user = await readUser(userId);
    return user && !(user as { deletedAt: Date | null }).deletedAt ? user : null;
  }

  async function readUser(userId: string): Promise<HostUser | null> {
    const db = await options.db();
    const usersTable: PgTable = options.users;
    const rows: HostUser[] = await db.select().from(usersTable).where(eq(options.users.id, userId));
    return rows[0] ?? null;
  }

  async function withDatabase<T>(work: (db: UserSyncDatabase) => Promise<T>): Promise<T> {
    try {
      return await work(await options.db());
    } catch (error) {
      throw new UserSyncError("DATABASE_UNAVAILABLE", "The database is unavailable", { cause: error });
    }
  }

  async function fetchFromClerk(userId: string): Promise<User | "not-found"> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new UserSyncError("CLERK_TIMEOUT", `Clerk did not answer within ${clerkTimeoutMs} ms`)),
        clerkTimeoutMs,
      );
    });
    try {
      const client = await options.clerk();
      return await Promise.race([client.users.getUser(userId), timeout]);
    } catch (error) {
      if (isClerkNotFound(error)) return "not-found";
      throw fromClerkFailure(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async function syncFromClerk(userId: string): Promise<SyncResult<HostUser>> {
    const startedAtMs = now();
    const fetchedAtMs = lastFetchedAtMs.get(userId);
    try {
      if (fetchedAtMs !== undefined && startedAtMs - fetchedAtMs < cooldownMs) {
        const user = await withDatabase(() => readLiveUser(userId));
        if (user) {
          emit({ source: "client-sync", outcome: "unchanged", clerkFetched: false, durationMs: now() - startedAtMs });
          return { outcome: "unchanged", user };
        }
      }
      const clerkUser = await fetchFromClerk(userId);
      let result: WriteResult;
      if (clerkUser === "not-found") {
        result = await withDatabase((db) => tombstoneClerkUser(db, table, userId, now()));
      } else {
        let snapshot: ClerkUserSnapshot;
        try {
          snapshot = snapshotFromBackendUser(clerkUser);
        } catch (error) {
          throw fromClerkFailure(error);
        }
        if (snapshot.id !== userId) throw new UserSyncError("CLERK_MALFORMED", "Clerk returned another user");
        result = await withDatabase((db) => upsertClerkUser(db, table, snapshot));
        rememberFetch(userId, now());
      }
      emit({ source: "client-sync", outcome: result.outcome, clerkFetched: true, durationMs: now() - startedAtMs });
      return { outcome: result.outcome, user: await withDatabase(() => readUser(userId)) };
    } catch (error) {
      const code = error instanceof UserSyncError ? error.code : "UNKNOWN";
      emit({ source: "client-sync", outcome: "error", clerkFetched: true, durationMs: now() - startedAtMs, errorCode: code });
      throw error;
    }
  }

  function rememberFetch(userId: string, atMs: number) {
    lastFetchedAtMs.set(userId, atMs);
    if (lastFetchedAtMs.size > 10_000) {
      for (const [id, fetchedAt] of lastFetchedAtMs) {
        if (atMs - fetchedAt >= cooldownMs) lastFetchedAtMs.delete(id);
      }
    }
  }

  return {
    table,
    readUser,
    readLiveUser,
    /**
     * Fetches the user from Clerk and writes it through the write path. Concurrent calls for
     * one user share one Clerk call; a user fetched within the cooldown is not fetched again.
     */
    syncUser(userId: string): Promise<SyncResult<HostUser>> {
      const running = inFlight.get(userId);
      if (running) return running;
      const started = syncFromClerk(userId).finally(() => inFlight.delete(userId));
      inFlight.set(userId, started);
      return started;
    },
  };
}

export type UserSyncService<TUsers extends UsersTable> = ReturnType<typeof createUserSyncService<TUsers>>;
