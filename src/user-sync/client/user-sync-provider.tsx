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
  /** Syncs again now, even if this session already synced. */
  resync: () => void;
  /**
   * Hands over a newer row of the signed-in user, e.g. the one a profile edit answered, so every
   * component shows it at once, without a sync or a webhook. Ignored once the session changed.
   */
  acceptUser(this: void, user: TUser): void;
};

export type UserSyncResult<TUser> = { outcome: string; user: TUser | null };

export type UserSyncProviderProps<TUser> = {
  children: React.ReactNode;
  /** Calls the `user.sync` mutation. */
  sync: () => Promise<UserSyncResult<TUser>>;
  /** Reads the row (`user.me`) when this session already synced (a reload, another tab). */
  load?: () => Promise<TUser | null>;
  retry?: Partial<RetryOptions>;
};

type InternalState<TUser> = Omit<UserSyncState<TUser>, "resync" | "acceptUser"> & {
  sessionId: string | null;
  /** The failed attempt's 0-based index, for backoff. */
  attempt: number;
};

const idle = { status: "idle", user: null, error: null, nextRetryAtMs: null, attempt: 0 } as const;

const UserSyncContext = createContext<UserSyncState<unknown> | null>(null);

/**
 * Syncs the signed-in Clerk user into the app's database once per Clerk session, without
 * blocking rendering. Place it inside `ClerkProvider` and the tRPC provider.
 *
 * @example
 * <UserSyncProvider sync={() => utils.client.user.sync.mutate()} load={() => utils.user.me.fetch()}>
 */
export function UserSyncProvider<TUser>(props: UserSyncProviderProps<TUser>) {
  const { isLoaded, isSignedIn, sessionId } = useAuth();
  const activeSessionId = isLoaded && isSignedIn && sessionId ? sessionId : null;
  const [state, setState] = useState<InternalState<TUser>>({ ...idle, sessionId: null });
  // The session the sync already fired for: survives StrictMode's second effect run.
  const firedForSession = useRef<string | null>(null);
  const currentSession = useRef<string | null>(null);
  currentSession.current = activeSessionId;
  const { sync, load } = props;
  const { maxAttempts, baseDelayMs, maxDelayMs } = { ...defaultRetryOptions, ...props.retry };
  const retryOptions = useMemo(() => ({ maxAttempts, baseDelayMs, maxDelayMs }), [maxAttempts, baseDelayMs, maxDelayMs]);

  const run = useCallback(
    async (forSession: string, attempt: number) => {
      setState((s) => ({ ...s, sessionId: forSession, status: "syncing", nextRetryAtMs: null, attempt }));
      try {
        const result = await sync();
        if (currentSession.current !== forSession) return;
        writeSessionMarker(forSession);
        // A deleted user's row is a tombstone: nothing to show.
        const user = result.outcome === "deleted" ? null : result.user;
        setState({ ...idle, sessionId: forSession, status: "synced", user });
      } catch (error) {
        if (currentSession.current !== forSession) return;
        const failure = error instanceof Error ? error : new Error(String(error));
        const canRetry = isRetriable(error) && attempt + 1 < retryOptions.maxAttempts;
        setState((s) => ({
          ...s,
          sessionId: forSession,
          status: "error",
          error: failure,
          attempt,
          nextRetryAtMs: canRetry ? Date.now() + nextDelayMs(error, attempt, retryOptions) : null,
        }));
      }
    },
    [sync, retryOptions],
  );

  const adoptEarlierSync = useCallback(
    async (forSession: string) => {
      setState({ ...idle, sessionId: forSession, status: "synced" });
      if (!load) return;
      try {
        const user = await load();
        if (currentSession.current === forSession) setState((s) => ({ ...s, user }));
      } catch {
        // The row is only shown; the sync itself is done.
      }
    },
    [load],
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

  const acceptUser = useCallback((user: TUser) => {
    const forSession = currentSession.current;
    if (!forSession) return;
    setState((s) => (s.sessionId === forSession ? { ...s, user } : s));
  }, []);

  const value = useMemo<UserSyncState<TUser>>(() => {
    const current = state.sessionId === activeSessionId ? state : { ...idle };
    return { status: current.status, user: current.user, error: current.error, nextRetryAtMs: current.nextRetryAtMs, resync, acceptUser };
  }, [state, activeSessionId, resync, acceptUser]);

  return <UserSyncContext.Provider value={value}>{props.children}</UserSyncContext.Provider>;
}

/** The sync state of the signed-in user. Must be used under `UserSyncProvider`. */
export function useUserSync<TUser = unknown>(): UserSyncState<TUser> {
  const value = useContext(UserSyncContext);
  if (!value) throw new Error("useUserSync must be used inside <UserSyncProvider>");
  return value as UserSyncState<TUser>;
}
