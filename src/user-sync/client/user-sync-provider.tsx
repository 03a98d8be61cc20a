"use client";

import { useAuth } from "@clerk/nextjs";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";

import { defaultRetryOptions, isRetriable, nextDelayMs, type RetryOptions } from "./retry";
import { clearSessionMarker, hasSessionMarker, markerKey, writeSessionMarker } from "./session-marker";

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

/** `UserSyncProvider` driven by two calls of the host's own (see `UserSyncProviderProps` for the tRPC client instead). */
export type UserSyncCallbackProps<TUser extends SyncedUserLike> = {
  children: React.ReactNode;
  /** Calls the `user.sync` mutation. */
  sync: () => Promise<UserSyncResult<TUser>>;
  /** Reads the row (`user.me`) when this session already synced (a reload, another tab). */
  load?: () => Promise<TUser | null>;
  retry?: Partial<RetryOptions>;
};

type InternalState<TUser> = Omit<UserSyncState<TUser>, "resync" | "acceptUser"> & {
  /** The Clerk session this state was fetched for: shown only while that session is active. */
  sessionId: string | null;
  /** The failed attempt's 0-based index, for backoff. */
  attempt: number;
};

const idle = { status: "idle", user: null, error: null, nextRetryAtMs: null, lastSync: null, attempt: 0 } as const;

const UserSyncContext = createContext<UserSyncState<unknown> | null>(null);

/** The answer carried another account's row: the request left under another session's cookie. */
export class UserSyncAccountMismatchError extends Error {
  constructor() {
    super("user.sync answered for another account (the session changed while it ran)");
    this.name = "UserSyncAccountMismatchError";
  }
}

/**
 * Syncs the signed-in Clerk user into the app's database once per Clerk session, without
 * blocking rendering. Place it inside `ClerkProvider` and the tRPC provider.
 *
 * Everything it holds belongs to the Clerk session that fetched it: on the very render where
 * the session changes (an account switch, a sign-out) it shows nothing of the previous one,
 * and it never shows a row whose `id` is not the signed-in Clerk user's, whatever `sync` or
 * `load` answered (a `load` answered from another account's cache makes it sync instead).
 *
 * @example
 * <UserSyncProvider sync={() => utils.client.user.sync.mutate()} load={() => utils.user.me.fetch()}>
 */
export function UserSyncCallbackProvider<TUser extends SyncedUserLike>(props: UserSyncCallbackProps<TUser>) {
  const { isLoaded, isSignedIn, sessionId, userId } = useAuth();
  const signedIn = isLoaded && isSignedIn && sessionId && userId ? { sessionId, userId } : null;
  const activeSessionId = signedIn?.sessionId ?? null;
  const activeUserId = signedIn?.userId ?? null;
  const [state, setState] = useState<InternalState<TUser>>({ ...idle, sessionId: null });
  // The session the sync already fired for: survives StrictMode's second effect run.
  const firedForSession = useRef<string | null>(null);
  // Clerk's state of the latest render: a result is used only if its session is still active,
  // and only if its row is that session's user (a session belongs to one user for its life).
  const current = useRef(signedIn);
  current.current = signedIn;
  const isStale = useCallback((forSession: string) => current.current?.sessionId !== forSession, []);
  const isForeign = useCallback((user: TUser | null) => user !== null && user.id !== current.current?.userId, []);
  const { sync, load } = props;
  const { maxAttempts, baseDelayMs, maxDelayMs } = { ...defaultRetryOptions, ...props.retry };
  const retryOptions = useMemo(() => ({ maxAttempts, baseDelayMs, maxDelayMs }), [maxAttempts, baseDelayMs, maxDelayMs]);

  const run = useCallback(
    async (forSession: string, attempt: number) => {
      // Another session's state (user, error) is dropped, not carried into this one.
      setState((s) =>
        s.sessionId === forSession
          ? { ...s, status: "syncing", nextRetryAtMs: null, attempt }
          : { ...idle, sessionId: forSession, status: "syncing", attempt },
      );
      try {
        const result = await sync();
        if (isStale(forSession)) return;
        if (isForeign(result.user)) throw new UserSyncAccountMismatchError();
        writeSessionMarker(forSession);
        // A deleted user's row is a tombstone: nothing to show.
        const user = result.outcome === "deleted" ? null : result.user;
        setState({ ...idle, sessionId: forSession, status: "synced", user, lastSync: { outcome: result.outcome, atMs: Date.now() } });
      } catch (error) {
        if (isStale(forSession)) return;
        const failure = error instanceof Error ? error : new Error(String(error));
        const canRetry = isRetriable(error) && attempt + 1 < retryOptions.maxAttempts;
        setState((s) => ({
          ...(s.sessionId === forSession ? s : { ...idle, sessionId: forSession }),
          status: "error",
          error: failure,
          attempt,
          nextRetryAtMs: canRetry ? Date.now() + nextDelayMs(error, attempt, retryOptions) : null,
        }));
      }
    },
    [sync, retryOptions, isStale, isForeign],
  );

  const adoptEarlierSync = useCallback(
    async (forSession: string) => {
      setState({ ...idle, sessionId: forSession, status: "synced" });
      if (!load) return;
      let user: TUser | null;
      try {
        user = await load();
      } catch {
        // The row is only shown; the sync itself is done.
        return;
      }
      if (isStale(forSession)) return;
      // Another account's row (a cache shared across sessions): sync this session instead.
      if (isForeign(user)) void run(forSession, 0);
      else setState((s) => (s.sessionId === forSession ? { ...s, user } : s));
    },
    [load, run, isStale, isForeign],
  );

  useEffect(() => {
    if (!activeSessionId) {
      firedForSession.current = null;
      setState((s) => (s.sessionId === null && s.status === "idle" ? s : { ...idle, sessionId: null }));
      return;
    }
    if (firedForSession.current === activeSessionId) return;
    firedForSession.current = activeSessionId;
    if (hasSessionMarker(activeSessionId)) void adoptEarlierSync(activeSessionId);
    else void run(activeSessionId, 0);
  }, [activeSessionId, run, adoptEarlierSync]);

  // The scheduled retry; re-armed on every render that still wants it (StrictMode-safe).
  const { nextRetryAtMs, attempt, sessionId: stateSession } = state;
  useEffect(() => {
    if (nextRetryAtMs === null || !stateSession || stateSession !== activeSessionId) return;
    const timer = setTimeout(() => void run(stateSession, attempt + 1), Math.max(0, nextRetryAtMs - Date.now()));
    return () => clearTimeout(timer);
  }, [nextRetryAtMs, attempt, stateSession, activeSessionId, run]);

  // Another tab of this session finished the sync while this one waits to retry.
  useEffect(() => {
    if (!activeSessionId || state.status !== "error") return;
    const onStorage = (event: StorageEvent) => {
      if (event.key === markerKey(activeSessionId) && event.newValue !== null) void adoptEarlierSync(activeSessionId);
    };
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, [activeSessionId, state.status, adoptEarlierSync]);

  const resync = useCallback(() => {
    if (!activeSessionId) return;
    clearSessionMarker(activeSessionId);
    void run(activeSessionId, 0);
  }, [activeSessionId, run]);

  // A row the app got elsewhere (a profile edit's answer), kept under the same rules as a sync's.
  const acceptUser = useCallback(
    (user: TUser) => {
      const forSession = current.current?.sessionId;
      if (!forSession || isForeign(user)) return;
      setState((s) => (s.sessionId === forSession ? { ...s, user } : s));
    },
    [isForeign],
  );

  // Decided on every render from Clerk's state of this render: a switch shows nothing of the previous session.
  const value = useMemo<UserSyncState<TUser>>(() => {
    const shown = activeSessionId !== null && state.sessionId === activeSessionId ? state : { ...idle };
    const user = shown.user && shown.user.id === activeUserId ? shown.user : null;
    return { status: shown.status, user, error: shown.error, nextRetryAtMs: shown.nextRetryAtMs, lastSync: shown.lastSync, resync, acceptUser };
  }, [state, activeSessionId, activeUserId, resync, acceptUser]);

  return <UserSyncContext.Provider value={value}>{props.children}</UserSyncContext.Provider>;
}

/** The sync state of the signed-in user. Must be used under `UserSyncProvider`. */
export function useUserSync<TUser = unknown>(): UserSyncState<TUser> {
  const value = useContext(UserSyncContext);
  if (!value) throw new Error("useUserSync must be used inside <UserSyncProvider>");
  return value as UserSyncState<TUser>;
}
