import { describe, expect, it } from "vitest";

import { lastSyncText, timeAgo } from "./last-sync-text";

const nowMs = Date.UTC(2026, 0, 1, 12);
const base = { lastSyncedAt: null, retrying: false, nowMs };

describe("lastSyncText", () => {
  it("says what the last sync did and when", () => {
    expect(lastSyncText({ ...base, status: "synced", lastSync: { outcome: "unchanged", atMs: nowMs - 5_000 } })).toBe("Up to date — checked just now");
    expect(lastSyncText({ ...base, status: "synced", lastSync: { outcome: "updated", atMs: nowMs - 120_000 } })).toBe("Updated from Clerk 2 minutes ago");
    expect(lastSyncText({ ...base, status: "synced", lastSync: { outcome: "created", atMs: nowMs - 3 * 3_600_000 } })).toBe("Account set up from Clerk 3 hours ago");
  });

  it("explains a reload, a wait and a failure", () => {
    expect(lastSyncText({ ...base, status: "synced", lastSync: null, lastSyncedAt: new Date(nowMs - 86_400_000) })).toBe(
      "Up to date — synced earlier this session, last changed from Clerk yesterday",
    );
    expect(lastSyncText({ ...base, status: "syncing", lastSync: null })).toBe("Checking your account with Clerk…");
    expect(lastSyncText({ ...base, status: "error", lastSync: null, retrying: true })).toBe("Clerk could not be reached — trying again shortly");
  });

  it("rounds to the unit a person reads", () => {
    expect(timeAgo(nowMs - 44_000, nowMs)).toBe("just now");
    expect(timeAgo(nowMs - 59 * 60_000, nowMs)).toBe("59 minutes ago");
    expect(timeAgo(nowMs - 60 * 60_000, nowMs)).toBe("1 hour ago");
  });
});
