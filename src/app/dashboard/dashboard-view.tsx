"use client";

import { SignInButton, SignOutButton, useAuth, useSessionList } from "@clerk/nextjs";

import type { User } from "~/server/db/schema";
import { api } from "~/trpc/react";
import { useUserSync } from "~/user-sync/client";

export function DashboardView() {
  const { userId } = useAuth();
  const { status, user, error, nextRetryAtMs, resync } = useUserSync<User>();
  // Any host component may read the row from the query cache the sync fills.
  const me = api.user.me.useQuery(undefined, { enabled: !!userId });
  const name = [user?.firstName, user?.lastName].filter(Boolean).join(" ");
  return (
    // The Clerk user this page believes in, beside the synced row it shows (the e2e suite compares them).
    <section data-testid="dashboard" data-clerk-user-id={userId ?? ""}>
      <p>
        Sync:{" "}
        <span className="status" data-testid="sync-status" data-status={status}>
          {status}
        </span>
      </p>
      {error && (
        <p role="alert" data-testid="sync-error">
          {error.message}
          {nextRetryAtMs !== null && " (retrying automatically)"}
        </p>
      )}
      <dl>
        <dt>Name</dt>
        <dd data-testid="user-name">{name || "—"}</dd>
        <dt>Email</dt>
        <dd data-testid="user-email">{user?.email ?? "—"}</dd>
        <dt>Tier</dt>
        <dd data-testid="user-tier">{user?.tier ?? "—"}</dd>
        <dt>
          Email read by <code>user.me</code>
        </dt>
        <dd data-testid="me-email">{me.data?.email ?? "—"}</dd>
      </dl>
      <p style={{ display: "flex", gap: "1rem" }}>
        <button type="button" onClick={resync} disabled={status === "syncing"}>
          Sync again
        </button>
        <SignOutButton redirectUrl="/">
          <button type="button">Sign out</button>
        </SignOutButton>
      </p>
      <AccountSwitcher />
    </section>
  );
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
    <nav aria-label="Accounts" style={{ display: "flex", gap: "1rem", flexWrap: "wrap" }}>
      {others.map((session) => (
        <button
          key={session.id}
          type="button"
          data-switch-to-user-id={session.publicUserData.userId}
          onClick={() => switchTo(session.id)}
        >
          Switch to {session.publicUserData.identifier}
        </button>
      ))}
      <SignInButton forceRedirectUrl="/dashboard">
        <button type="button">Add account</button>
      </SignInButton>
    </nav>
  );
}
