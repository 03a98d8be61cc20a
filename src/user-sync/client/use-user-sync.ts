"use client";

import { createContext, useContext } from "react";

export type UserSyncStatus = "idle" | "syncing" | "synced" | "error";

export type UserSyncState<TUser> = {
  status: UserSyncStatus;
  /** The caller's row after the sync; null before it, when signed out, or after a deletion. */
  user: TUser | null;
  /** The last failure; kept while a retry is scheduled (see `nextRetryAtMs`). */
  error: Error | null;
  /** Epoch ms of the scheduled retry, or null when none is scheduled. */
  nextRetryAtMs: number | null;
  /**
   * What the last completed sync of this session did (`created`, `updated`, `unchanged`,
   * `deleted`, …, the server's outcome) and when (epoch ms). Null until one completes in this
   * tab: a reload adopts the session's earlier sync without one. Kept while a later sync fails.
   */
  lastSync: UserSyncLastSync | null;
  /** Syncs again now, even if this session already synced. */
  resync: () => void;
  /**
   * Hands over a newer row of the signed-in user, e.g. the one a profile edit answered, so every
   * component shows it at once, without a sync or a webhook. Ignored once the session changed,
   * and for a row of another user.
   */
  acceptUser(this: void, user: TUser): void;
};

export type UserSyncResult<TUser> = { outcome: string; user: TUser | null };

/** See `UserSyncState.lastSync`. */
export type UserSyncLastSync = { outcome: string; atMs: number };

/** A row of the host's users table: its `id` is the Clerk user id. */
export type SyncedUserLike = { id: string };

export const UserSyncContext = createContext<UserSyncState<unknown> | null>(null);

/** The sync state of the signed-in user. Must be used under `UserSyncProvider`. */
export function useUserSync<TUser = unknown>(): UserSyncState<TUser> {
  const value = useContext(UserSyncContext);
  if (!value) throw new Error("useUserSync must be used inside <UserSyncProvider>");
  return value as UserSyncState<TUser>;
}
