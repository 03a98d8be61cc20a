"use client";

import { SignInButton, SignOutButton, useAuth, useSessionList } from "@clerk/nextjs";
import Link from "next/link";
import { useEffect, useState } from "react";

import type { User } from "~/server/db/schema";
import { api } from "~/trpc/react";
import { useUserSync } from "clerk-user-sync/client";

import { lastSyncText } from "./last-sync-text";

const statusStyle: Record<string, string> = {
  idle: "bg-slate-100 text-slate-700 ring-slate-300",
  syncing: "bg-amber-50 text-amber-800 ring-amber-300",
  synced: "bg-emerald-50 text-emerald-800 ring-emerald-300",
  error: "bg-red-50 text-red-800 ring-red-300",
};

/** Re-renders every 30 s, so "2 minutes ago" stays true while the page is open. */
function useNowMs() {
  const [nowMs, setNowMs] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNowMs(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  return nowMs;
}

export function DashboardView() {
  const { isLoaded, userId } = useAuth();
  const { status, user, error, nextRetryAtMs, lastSync, resync } = useUserSync<User>();
  // Any host component may read the row from the query cache the sync fills: enabled once the
  // sync has answered, it reads that row instead of racing the first sync to the server.
  const me = api.user.me.useQuery(undefined, { enabled: !!userId && (status === "synced" || status === "error") });
  const nowMs = useNowMs();
  const name = [user?.firstName, user?.lastName].filter(Boolean).join(" ");
  const deleted = status === "synced" && lastSync?.outcome === "deleted";
  const summary = lastSyncText({ status, lastSync, lastSyncedAt: user?.lastSyncedAt ?? null, retrying: nextRetryAtMs !== null, nowMs });

  return (
    // The Clerk user this page believes in, beside the synced row it shows (the e2e suite compares them).
    <section data-testid="dashboard" data-clerk-user-id={userId ?? ""} className="space-y-6">
      {isLoaded && !userId ? (
        <div className="card" data-testid="signed-out">
          <h2 className="text-lg font-semibold">You are signed out</h2>
          <p className="mt-1 text-slate-600">Your Clerk session ended. If your account was deleted in Clerk, it no longer exists here either.</p>
          <Link className="btn mt-4" href="/">
            Back to the home page
          </Link>
        </div>
      ) : deleted ? (
        <div className="card border-red-200 bg-red-50" role="alert" data-testid="account-deleted">
          <h2 className="text-lg font-semibold text-red-900">This account no longer exists</h2>
          <p className="mt-1 text-red-800">
            It was deleted in Clerk, so this app has removed its copy of your profile. Sign out to use another account.
          </p>
          <div className="mt-4">
            <SignOutButton redirectUrl="/">
              <button type="button" className="btn btn-danger">
                Sign out
              </button>
            </SignOutButton>
          </div>
        </div>
      ) : (
        <div className="card">
          <div className="flex flex-wrap items-center gap-5">
            <Avatar imageUrl={user?.imageUrl ?? null} name={name} />
            <div className="min-w-0 flex-1">
              <p className="text-xl font-semibold text-slate-900" data-testid="user-name">
                {name || "—"}
              </p>
              <p className="truncate text-slate-600" data-testid="user-email">
                {user?.email ?? user?.phoneNumber ?? "—"}
              </p>
              {user && (user.locked || user.banned) && (
                <p className="text-sm font-medium text-amber-800" data-testid="user-state">
                  {user.banned ? "Banned in Clerk" : "Locked in Clerk (too many failed sign-ins)"}
                </p>
              )}
              <p className="truncate text-sm text-slate-500">
                <span data-testid="user-username">{user?.username ? `@${user.username}` : "no username"}</span>
                {" · "}
                <span data-testid="user-interests">{user?.interests.length ? user.interests.join(", ") : "no interests yet"}</span>
              </p>
            </div>
            <p className="text-sm text-slate-600">
              Plan{" "}
              <span data-testid="user-tier" className="ml-1 rounded-full bg-indigo-50 px-2.5 py-0.5 font-semibold text-indigo-700 ring-1 ring-indigo-200">
                {user?.tier ?? "—"}
              </span>
            </p>
          </div>
          <div className="mt-6 flex flex-wrap items-center gap-3 border-t border-slate-100 pt-5">
            <span
              className={`inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-semibold tracking-wide uppercase ring-1 ${statusStyle[status]}`}
              data-testid="sync-status"
              data-status={status}
            >
              {status}
            </span>
            <p className="text-sm text-slate-700" data-testid="sync-summary" aria-live="polite">
              {summary}
            </p>
          </div>
          {error && (
            <p role="alert" data-testid="sync-error" className="mt-3 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800">
              {error.message}
              {nextRetryAtMs !== null && " (retrying automatically)"}
            </p>
          )}
          <div className="mt-5 flex flex-wrap gap-3">
            <Link className="btn btn-primary" href="/profile">
              Edit profile
            </Link>
            <button type="button" className="btn" onClick={resync} disabled={status === "syncing"}>
              Sync again
            </button>
            <SignOutButton redirectUrl="/">
              <button type="button" className="btn">
                Sign out
              </button>
            </SignOutButton>
          </div>
        </div>
      )}
      <details className="card text-sm">
        <summary className="cursor-pointer font-medium text-slate-700">For developers</summary>
        <dl className="mt-3 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-slate-700">
          <dt className="font-medium">Clerk user id</dt>
          <dd className="font-mono">{userId ?? "—"}</dd>
          <dt className="font-medium">
            Email (or phone) read by <code>user.me</code>
          </dt>
          <dd data-testid="me-email">{me.data?.email ?? me.data?.phoneNumber ?? "—"}</dd>
        </dl>
      </details>
      {/* Switching and adding accounts are for a signed-in visitor; signed out, "Sign in" is on the home page. */}
      {userId && <AccountSwitcher />}
    </section>
  );
}

function Avatar({ imageUrl, name }: { imageUrl: string | null; name: string }) {
  if (!imageUrl) {
    const initials = name.split(" ").map((part) => part[0]).join("").slice(0, 2);
    return (
      <span aria-hidden className="grid size-16 place-items-center rounded-full bg-indigo-100 text-xl font-semibold text-indigo-700">
        {initials || "?"}
      </span>
    );
  }
  // Clerk serves avatars from its own hosts (img.clerk.com, the emulator): a plain <img>, not next/image's allow-list.
  // eslint-disable-next-line @next/next/no-img-element
  return <img src={imageUrl} alt={name ? `${name}'s avatar` : "Avatar"} width={64} height={64} className="size-16 rounded-full bg-slate-100 object-cover ring-2 ring-white shadow" data-testid="user-avatar" />;
}

/** Clerk's multi-session accounts of this browser: switch without a reload, or add one. */
function AccountSwitcher() {
  const { sessionId } = useAuth();
  const list = useSessionList();
  const others = list.isLoaded ? list.sessions.filter((session) => session.status === "active" && session.id !== sessionId) : [];
  const switchTo = (id: string) => {
    if (list.isLoaded) void list.setActive({ session: id });
  };
  return (
    <nav aria-label="Accounts" className="flex flex-wrap items-center gap-3">
      {others.map((session) => (
        <button key={session.id} type="button" className="btn" data-switch-to-user-id={session.publicUserData.userId} onClick={() => switchTo(session.id)}>
          Switch to {session.publicUserData.identifier}
        </button>
      ))}
      <SignInButton forceRedirectUrl="/dashboard">
        <button type="button" className="btn">
          Add account
        </button>
      </SignInButton>
    </nav>
  );
}
