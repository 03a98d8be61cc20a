"use client";

import { SignOutButton } from "@clerk/nextjs";

import type { User } from "~/server/db/schema";
import { useUserSync } from "~/user-sync/client";

export function DashboardView() {
  const { status, user, error, nextRetryAtMs, resync } = useUserSync<User>();
  const name = [user?.firstName, user?.lastName].filter(Boolean).join(" ");
  return (
    <section>
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
      {/* eslint-disable-next-line @next/next/no-img-element -- Clerk's image host differs per instance and emulator. */}
      {user?.imageUrl && <img className="avatar" src={user.imageUrl} alt="" width={48} height={48} data-testid="user-avatar" />}
      <dl>
        <dt>Name</dt>
        <dd data-testid="user-name">{name || "—"}</dd>
        <dt>Username</dt>
        <dd data-testid="user-username">{user?.username ?? "—"}</dd>
        <dt>Email</dt>
        <dd data-testid="user-email">{user?.email ?? "—"}</dd>
        <dt>Tier</dt>
        <dd data-testid="user-tier">{user?.tier ?? "—"}</dd>
        <dt>Interests</dt>
        <dd data-testid="user-interests">{user?.interests.length ? user.interests.join(", ") : "—"}</dd>
      </dl>
      <p style={{ display: "flex", gap: "1rem" }}>
        <button type="button" onClick={resync} disabled={status === "syncing"}>
          Sync again
        </button>
        <SignOutButton redirectUrl="/">
          <button type="button">Sign out</button>
        </SignOutButton>
      </p>
    </section>
  );
}
