/** The webhook handler's options, what it answers and logs, and one delivery as it is processed. */
import type { BackgroundScheduler } from "../background";
import type { UserSyncDatabase } from "../database";
import type { UserSyncEvent } from "../events";
import type { WriteOutcome } from "../outcomes";
import type { UsersTable, UserSyncTables } from "../schema";

export type ClerkWebhookOptions = {
  /** The host's database (postgres.js or PGlite drizzle instance). */
  db: () => Promise<UserSyncDatabase>;
  /** The host's users table, built with `userSyncColumns()`. */
  users: UsersTable;
  /** The plugin's tables (the host's `userSyncTables()`); default their own names. */
  tables?: Pick<UserSyncTables, "clerkWebhookEvents">;
  /** The endpoint's `whsec_…` signing secret. Unset: every delivery is answered 503. */
  signingSecret: string | undefined;
  /** When set, events whose envelope `instance_id` differs are acknowledged, ignored, logged at `warn` and counted. */
  instanceId?: string;
  /** Larger bodies are refused with 413 before they are read in full. */
  maxBodyBytes?: number;
  /** Processed inbox rows older than this many days are pruned (default 30; dead letters are kept). */
  retentionDays?: number;
  /** At most one automatic prune per this interval per process (default 5 min); 0 turns it off (prune by cron). */
  pruneIntervalMs?: number;
  /**
   * Fetches the user from Clerk's Backend API and writes the answer through the write path (what
   * `createUserSync` passes: `user.sync`'s fetch, within the shared Clerk budget). Called when a
   * payload carries Clerk's stored clock with other values (`diverged`): Clerk does not move
   * `updated_at` for every change (an email switch may not), so only Clerk's current answer says
   * which values are newer. Without it such a delivery is recorded as `diverged` and left to the
   * next sync or reconciliation.
   */
  refetch?: (userId: string) => Promise<{ outcome: WriteOutcome } | "not_found">;
  onEvent?: (event: UserSyncEvent) => void;
  /**
   * Where the inbox prune after a delivery runs (Next's `(task) => after(task)`): during the
   * delivery's request, with a task the platform lets finish after the response. Without one (or
   * outside a request) the prune starts off the response's path and nothing waits for it.
   */
  schedule?: BackgroundScheduler;
  /** Where the one line per delivery (and per prune that did something) goes; the default writes JSON to the console. */
  log?: (entry: ClerkWebhookLogEntry) => void;
};

/** What happened to one delivery. `WriteOutcome`s mean the event was applied. */
export type DeliveryOutcome =
  | WriteOutcome
  | "diverged"
  | "duplicate"
  | "dead_letter"
  | "ignored_type"
  | "ignored_instance"
  | "rejected"
  | "failed"
  | "not_configured";

/** One log line per delivery. Never carries payload values or database messages. */
export type ClerkWebhookDeliveryLogEntry = {
  level: "info" | "warn" | "error";
  eventType: string | null;
  svixId: string | null;
  outcome: DeliveryOutcome;
  status: number;
  reason?: string;
};

/** One log line per inbox upkeep that deleted something or failed. */
export type ClerkWebhookInboxLogEntry = {
  level: "info" | "warn";
  task: "prune_inbox";
  deletedRows: number;
  reason?: string;
};

export type ClerkWebhookLogEntry = ClerkWebhookDeliveryLogEntry | ClerkWebhookInboxLogEntry;

export type ClerkWebhookCounts = {
  applied: number;
  duplicate: number;
  deadLettered: number;
  ignoredType: number;
  ignoredInstance: number;
  rejected: number;
  failed: number;
};

export const defaultMaxBodyBytes = 256 * 1024;
export const defaultPruneIntervalMs = 5 * 60 * 1000;

/** One authentic delivery; what is known about its event is filled in as it is parsed. */
export type Delivery = {
  svixId: string;
  receivedAt: Date;
  startedAtMs: number;
  eventType: string | null;
  clerkUserId: string | null;
  eventTimestampMs: number | null;
};
