import type { UserSyncLastSync, UserSyncStatus } from "clerk-user-sync/client";

const outcomeText: Record<string, string> = {
  created: "Account set up from Clerk",
  updated: "Updated from Clerk",
  restored: "Restored from Clerk",
  unchanged: "Up to date",
  touched: "Up to date",
  // Clerk's answer was older than what the app already had (a webhook got here first).
  stale: "Up to date",
};

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "just now", "2 minutes ago", "3 hours ago", "yesterday". */
export function timeAgo(atMs: number, nowMs: number) {
  const seconds = Math.max(0, Math.round((nowMs - atMs) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return relative.format(-minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 24) return relative.format(-hours, "hour");
  return relative.format(-Math.round(hours / 24), "day");
}

/** What the sync of this session did, in words a user understands. */
export function lastSyncText(input: {
  status: UserSyncStatus;
  lastSync: UserSyncLastSync | null;
  lastSyncedAt: Date | null;
  retrying: boolean;
  nowMs: number;
}) {
  const { status, lastSync, lastSyncedAt, retrying, nowMs } = input;
  if (status === "idle") return "Waiting for your Clerk session…";
  if (status === "syncing") return "Checking your account with Clerk…";
  if (status === "error") return retrying ? "Clerk could not be reached — trying again shortly" : "Clerk could not be reached — sync again to retry";
  if (!lastSync) {
    return lastSyncedAt
      ? `Up to date — synced earlier this session, last changed from Clerk ${timeAgo(lastSyncedAt.getTime(), nowMs)}`
      : "Up to date — synced earlier this session";
  }
  const verb = lastSync.outcome === "unchanged" || lastSync.outcome === "touched" || lastSync.outcome === "stale" ? "checked" : "";
  const when = timeAgo(lastSync.atMs, nowMs);
  const what = outcomeText[lastSync.outcome] ?? "Synced with Clerk";
  return verb ? `${what} — ${verb} ${when}` : `${what} ${when}`;
}
