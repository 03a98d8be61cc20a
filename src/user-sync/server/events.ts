/** What the plugin tells the host about each write attempt, and its own log lines. */
import type { UserSyncErrorCode } from "./errors";
import { dataChangingOutcomes, type WriteOutcome } from "./outcomes";

/** Which writer produced a write: telemetry tells how often the self-heal path fires. */
export type UserSyncSource = "client-sync" | "webhook" | "reconcile" | "profile-update";

/** Emitted after every write attempt. Carries no user data. */
export type UserSyncEvent = {
  source: UserSyncSource;
  /**
   * `error`: the write failed (Clerk down or slow, the database). `refused`: a profile edit Clerk
   * or the user's own edit allowance turned down (a taken username, too many edits): an answer
   * to the user, not a failure of the sync, so never counted among errors.
   */
  outcome: WriteOutcome | "error" | "refused";
  /** False when `user.sync` answered from its cooldown without calling Clerk. */
  clerkFetched: boolean;
  /** The self-heal figure: true when the write created or changed mirrored data (`created`, `updated`, `restored`). */
  changedData: boolean;
  durationMs: number;
  errorCode?: string;
};

/**
 * The plugin's own log lines: configuration problems, what the database's driver cannot do, a run
 * started by `startReconcile` that failed (its error code). No user data, no secrets.
 */
export type UserSyncLogEntry =
  | { level: "error"; event: "config_problem"; code: ConfigProblemCode; message: string }
  | { level: "warn"; event: "driver_limitation"; driver: string; message: string }
  | { level: "warn"; event: "reconcile_failed"; code: string };

/** Calls `onEvent`, swallowing its failures: telemetry must never break a write. */
export function guardedEmitter(onEvent: ((event: UserSyncEvent) => void) | undefined) {
  return (event: Omit<UserSyncEvent, "changedData"> & { changedData?: boolean }) => {
    try {
      onEvent?.({ ...event, changedData: event.changedData ?? (event.outcome !== "error" && event.outcome !== "refused" && dataChangingOutcomes.has(event.outcome)) });
    } catch {
      // Ignored on purpose.
    }
  };
}

export type ConfigProblemCode = Extract<UserSyncErrorCode, "CLERK_INSTANCE_MISMATCH" | "CLERK_KEY_REJECTED">;

/** A misconfiguration seen at run time, for a health view. */
export type ConfigProblem = { code: ConfigProblemCode; message: string; firstSeenAt: Date; lastSeenAt?: Date };
