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
      <dl>
        <dt>Name</dt>
        <dd data-testid="user-name">{name || "—"}</dd>
        <dt>Email</dt>
        <dd data-testid="user-email">{user?.email ?? "—"}</dd>
        <dt>Tier</dt>
        <dd data-testid="user-tier">{user?.tier ?? "—"}</dd>
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
