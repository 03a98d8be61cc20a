"use client";

import { useAuth } from "@clerk/nextjs";
import { useEffect, useLayoutEffect, useMemo, useState, type Dispatch, type SetStateAction } from "react";

import { defaultRetryOptions, retryDelayMs, type RetryOptions } from "./retry";
import { clearSessionMarker, hasSessionMarker, markerKey, writeSessionMarker } from "./session-marker";
import { UserSyncContext, type SyncedUserLike, type UserSyncResult, type UserSyncState } from "./use-user-sync";

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

/** What the latest render saw: the props, and Clerk's signed-in session and user (null when none). */
type Latest<TUser extends SyncedUserLike> = { props: UserSyncCallbackProps<TUser>; sessionId: string | null; userId: string | null };

const idle = { status: "idle", user: null, error: null, nextRetryAtMs: null, lastSync: null, attempt: 0, sessionId: null } as const;

/** The answer carried another account's row: the request left under another session's cookie. */
export class UserSyncAccountMismatchError extends Error {
  constructor() {
    super("user.sync answered for another account");
    this.name = "UserSyncAccountMismatchError";
  }
}

/**
 * The provider's actions, made once per provider. Each reads the latest committed render's props
 * and Clerk state (`seen`): a result is used only if its session is still active, and only if its
 * row is that session's user (a session belongs to one user for its life).
 */
function syncActions<TUser extends SyncedUserLike>(setState: Dispatch<SetStateAction<InternalState<TUser>>>) {
  let latest: Latest<TUser>;
  const isStale = (forSession: string) => latest.sessionId !== forSession;
  const isForeign = (user: TUser | null) => user !== null && user.id !== latest.userId;
  // Another session's state (user, error) is dropped, not carried into this one.
  const update = (forSession: string, change: Partial<InternalState<TUser>>) =>
    setState((s) => ({ ...(s.sessionId === forSession ? s : { ...idle, sessionId: forSession }), ...change }));
  const showUser = (forSession: string, user: TUser | null) => setState((s) => (s.sessionId === forSession ? { ...s, user } : s));

  const run = async (forSession: string, attempt: number) => {
    update(forSession, { status: "syncing", nextRetryAtMs: null, attempt });
    try {
      const result = await latest.props.sync();
      if (isStale(forSession)) return;
      if (isForeign(result.user)) throw new UserSyncAccountMismatchError();
      writeSessionMarker(forSession);
      // A deleted user's row is a tombstone: nothing to show.
      const user = result.outcome === "deleted" ? null : result.user;
      setState({ ...idle, sessionId: forSession, status: "synced", user, lastSync: { outcome: result.outcome, atMs: Date.now() } });
    } catch (error) {
      if (isStale(forSession)) return;
      const delayMs = retryDelayMs(error, attempt, { ...defaultRetryOptions, ...latest.props.retry });
      update(forSession, {
        status: "error",
        error: error instanceof Error ? error : new Error(String(error)),
        attempt,
        nextRetryAtMs: delayMs === null ? null : Date.now() + delayMs,
      });
    }
  };

  const adopt = async (forSession: string) => {
    setState({ ...idle, sessionId: forSession, status: "synced" });
    const { load } = latest.props;
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
    else showUser(forSession, user);
  };

  const resync = () => {
    const { sessionId } = latest;
    if (!sessionId) return;
    clearSessionMarker(sessionId);
    void run(sessionId, 0);
  };

  // A row the app got elsewhere (a profile edit's answer), kept under the same rules as a sync's.
  const acceptUser = (user: TUser) => {
    const { sessionId } = latest;
    if (sessionId && !isForeign(user)) showUser(sessionId, user);
  };

  // The session the sync already fired for: survives StrictMode's second effect run.
  let firedFor: string | null = null;
  /** The session effect: sign-out clears the state; a new session syncs, or adopts its earlier sync. */
  const start = (sessionId: string | null) => {
    if (!sessionId) {
      firedFor = null;
      setState((s) => (s.sessionId === null && s.status === "idle" ? s : idle));
    } else if (firedFor !== sessionId) {
      firedFor = sessionId;
      void (hasSessionMarker(sessionId) ? adopt(sessionId) : run(sessionId, 0));
    }
  };

  const seen = (render: Latest<TUser>) => void (latest = render);

  return { run, adopt, resync, acceptUser, start, seen };
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
  const signedIn = isLoaded && isSignedIn && sessionId && userId;
  const activeSessionId = signedIn ? sessionId : null;
  const activeUserId = signedIn ? userId : null;
  const [state, setState] = useState<InternalState<TUser>>(idle);
  const [actions] = useState(() => syncActions(setState));
  // Before any effect of this render (the session's, the retry's) calls an action.
  useLayoutEffect(() => actions.seen({ props, sessionId: activeSessionId, userId: activeUserId }));
  useEffect(() => actions.start(activeSessionId), [activeSessionId, actions]);

  // While this session's sync failed: the scheduled retry, re-armed on every render that still
  // wants it (StrictMode-safe), and another tab of this session finishing the sync meanwhile.
  useEffect(() => {
    const { status, nextRetryAtMs, attempt, sessionId } = state;
    if (status !== "error" || !sessionId || sessionId !== activeSessionId) return;
    const timer = nextRetryAtMs === null ? undefined : setTimeout(() => void actions.run(sessionId, attempt + 1), Math.max(0, nextRetryAtMs - Date.now()));
    const onStorage = (event: StorageEvent) => {
      if (event.key === markerKey(sessionId) && event.newValue !== null) void actions.adopt(sessionId);
    };
    window.addEventListener("storage", onStorage);
    return () => {
      clearTimeout(timer);
      window.removeEventListener("storage", onStorage);
    };
  }, [state, activeSessionId, actions]);

  // Decided on every render from Clerk's state of this render: a switch shows nothing of the previous session.
  const value = useMemo<UserSyncState<TUser>>(() => {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- taken out: internal
    const { sessionId, attempt, user, ...shown } = activeSessionId !== null && state.sessionId === activeSessionId ? state : idle;
    return { ...shown, user: user?.id === activeUserId ? user : null, resync: actions.resync, acceptUser: actions.acceptUser };
  }, [state, activeSessionId, activeUserId, actions]);

  return <UserSyncContext value={value}>{props.children}</UserSyncContext>;
}
