"use client";

import { useAuth, useSessionList, useUser } from "@clerk/nextjs";
import { useEffect, useState } from "react";

/** The account this tab last showed: opaque Clerk ids only, in this tab's session storage (it survives a reload). */
const storageKey = "clerk-user-sync-host:shown-session";
type ShownSession = { userId: string; sessionId: string };

function readShown(): ShownSession | null {
  if (typeof window === "undefined") return null;
  try {
    const value = JSON.parse(window.sessionStorage.getItem(storageKey) ?? "null") as Partial<ShownSession> | null;
    return typeof value?.userId === "string" && typeof value.sessionId === "string" ? { userId: value.userId, sessionId: value.sessionId } : null;
  } catch {
    return null;
  }
}

function writeShown(shown: ShownSession | null) {
  try {
    if (shown) window.sessionStorage.setItem(storageKey, JSON.stringify(shown));
    else window.sessionStorage.removeItem(storageKey);
  } catch {
    // Storage refused (private mode, quota): no notice then, nothing worse.
  }
}

/**
 * With several accounts signed in (Clerk multi-session), the active one can end without the
 * user switching: deleted or banned in Clerk, signed out elsewhere. A page load before clerk-js
 * notices makes another signed-in account active (Clerk's handshake); once clerk-js notices (its
 * token refresh), it signs the tab out and the page sends the user to sign in. The first is the
 * silent switch: this says so, when the account changed and the one shown before is no longer
 * among this browser's sessions (a switch the user made keeps it there).
 */
export function AccountChangeNotice() {
  const { isLoaded, userId, sessionId } = useAuth();
  const sessionList = useSessionList();
  const { user } = useUser();
  const sessions = sessionList.isLoaded ? sessionList.sessions : null;
  // The account shown before (from this tab's storage on the first render), and the account that replaced it, if any.
  const [shown, setShown] = useState<ShownSession | null>(readShown);
  const [replacedBy, setReplacedBy] = useState<string | null>(null);

  const current = isLoaded && userId && sessionId ? { userId, sessionId } : null;
  if (isLoaded && sessions && (current?.userId !== shown?.userId || current?.sessionId !== shown?.sessionId)) {
    // Derived from the previous render's account (React's "adjusting state while rendering").
    if (current && shown && shown.userId !== current.userId) {
      const stillSignedIn = sessions.some((session) => session.id === shown.sessionId && session.status === "active");
      setReplacedBy(stillSignedIn ? null : current.userId);
    }
    setShown(current);
  }
  useEffect(() => {
    if (isLoaded && sessions) writeShown(shown);
  }, [isLoaded, sessions, shown]);

  const replaced = replacedBy !== null && replacedBy === userId;
  if (!replaced || !userId) return null;
  const nowUsing =
    user?.primaryEmailAddress?.emailAddress ?? user?.primaryPhoneNumber?.phoneNumber ?? user?.username ?? ([user?.firstName, user?.lastName].filter(Boolean).join(" ") || "another account");
  return (
    <div className="border-b border-amber-200 bg-amber-50" role="alert" data-testid="account-change-notice" data-user-id={userId}>
      <div className="mx-auto flex w-full max-w-5xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3 text-sm text-amber-950 sm:px-6">
        <p className="flex-1">
          <strong className="font-semibold">The account you were using is no longer signed in here</strong> (it was signed out, or deleted in Clerk).
          You are now using your other signed-in account, <strong className="font-semibold">{nowUsing}</strong>.
        </p>
        <button type="button" className="btn" onClick={() => setReplacedBy(null)}>
          Dismiss
        </button>
      </div>
    </div>
  );
}
