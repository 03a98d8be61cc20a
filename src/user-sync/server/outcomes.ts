/** What a write did (the write path's outcomes) and who may write: the vocabulary every module shares. */
export type WriteOutcome = "created" | "updated" | "touched" | "unchanged" | "stale" | "deleted" | "restored";

/** Outcomes that created or changed mirrored data: what telemetry counts as a self-heal. */
export const dataChangingOutcomes: ReadonlySet<WriteOutcome> = new Set(["created", "updated", "restored"]);

/**
 * Where a snapshot came from. `fetched`: read from the Backend API by this process just now
 * (authoritative, wins an equal clock). `pushed`: a webhook payload (may be a replay).
 */
export type WriteAuthority = "fetched" | "pushed";

/** Who wrote a tombstone; only `webhook` (Clerk's own `user.deleted`) is final. */
export type TombstoneOrigin = "webhook" | "client-sync" | "reconcile";
