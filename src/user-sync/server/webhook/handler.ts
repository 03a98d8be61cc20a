/**
 * Clerk webhooks (delivered by Svix) onto the one write path.
 *
 * - Authentic first: the raw body is verified with `standardwebhooks` (Clerk's own verifier is
 *   built on it) before anything is parsed, and nothing touches the database until it passes.
 * - Ordered by Clerk's clock, never by arrival or by `svix-timestamp` (which changes on every
 *   attempt): upserts by `data.updated_at`, deletions by the envelope `timestamp`, and deletion
 *   wins (see write-path.ts).
 * - At-least-once made exactly-once: the `svix-id` is recorded in `clerk_webhook_events` in the
 *   same statement as the effect (one round trip, atomic). A redelivery finds the row and does
 *   nothing; a delivery that fails leaves no row and is applied when Svix retries it.
 * - 2xx only after commit. A signed payload that can never apply is kept as a dead letter and
 *   acknowledged, so Svix does not retry it for days and then disable the endpoint. The same
 *   goes for a database error no retry can get past (a data exception `22…`, a constraint
 *   violation `23…`, a host trigger raising): the effect is rolled back, the dead letter is
 *   recorded in a statement of its own, then acknowledged. Transient database errors (see
 *   database.ts) answer 503 so Svix retries; so does a dead letter that cannot be recorded.
 * - Quiet: logs, responses, dead-letter reasons and `onEvent` carry the event type, the
 *   svix-id, the outcome and codes (SQLSTATE, schema issue paths), never payload values or
 *   database messages (they quote row values).
 * - One Clerk call, only for a `diverged` payload (Clerk's stored clock with other values: Clerk
 *   does not move `updated_at` for every change): `refetch` asks Clerk for the user and the
 *   fetched answer settles it; if Clerk cannot answer, 503 and Svix retries. No other Clerk call.
 * - Bounded: processed inbox rows older than the retention window are pruned in batches, now
 *   and then after a delivery (through the host's `schedule`, so a serverless function finishes
 *   it before it is frozen; off the response's path) or by a cron calling `pruneInbox()`.
 */
import { sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { z } from "zod";

import { scheduleInBackground, type BackgroundScheduler } from "../background";
import { rowsOf } from "../clerk/budget";
import { describeIssues, MalformedClerkUserError, snapshotFromUserJson } from "../clerk/user-json";
import { classifyDatabaseError, databaseErrorCode, isDatabaseError } from "../database";
import { UserSyncError } from "../errors";
import { defaultUserSyncTables, syncedTableOf, type UserSyncTables } from "../schema";
import { guardedEmitter, type UsersTable, type UserSyncEvent } from "../sync";
import {
  clearWebhookDeadLetters,
  defaultInboxRetentionDays,
  pruneWebhookInbox,
  type DeadLetterSelection,
  type InboxPruneOptions,
  type InboxPruneResult,
} from "./inbox";
import { pushedWriteStatement, type PushedWrite, type UserSyncDatabase, type WriteOutcome } from "../write-path";

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

const handledTypes = new Set(["user.created", "user.updated", "user.deleted"]);

// Svix message ids are `msg_` plus 27 characters; anything far longer is not one.
const maxSvixIdLength = 200;

const envelopeSchema = z.object({
  type: z.string().min(1),
  object: z.literal("event"),
  data: z.record(z.string(), z.unknown()),
  /** When the event happened in Clerk, milliseconds. Only `user.deleted` needs it (its clock). */
  timestamp: z.number().int().positive().optional(),
  instance_id: z.string().optional(),
});

const deletedUserSchema = z.object({
  id: z.string().startsWith("user_"),
  deleted: z.literal(true).optional(),
});

/** One authentic delivery; what is known about its event is filled in as it is parsed. */
type Delivery = {
  svixId: string;
  receivedAt: Date;
  startedAtMs: number;
  eventType: string | null;
  clerkUserId: string | null;
  eventTimestampMs: number | null;
};

/** The dead letter itself could not be recorded: nothing may be acknowledged. */
class DeadLetterNotRecorded extends Error {
  constructor(cause: unknown) {
    super("The dead letter could not be recorded", { cause });
    this.name = "DeadLetterNotRecorded";
  }
}

/**
 * The handler behind `POST /api/webhooks/clerk`. Status codes:
 * 200 applied, duplicate, ignored or dead-lettered · 400 missing headers or bad signature ·
 * 405 not POST · 413 body over `maxBodyBytes` · 503 transient database failure, or a dead
 * letter that could not be recorded (Svix retries) · 500 unexpected failure (Svix retries) ·
 * 503 no signing secret configured (the body says only that; the log names the variable).
 */
export function createClerkWebhookHandler(options: ClerkWebhookOptions) {
  const table = syncedTableOf(options.users);
  const clerkWebhookEvents = (options.tables ?? defaultUserSyncTables).clerkWebhookEvents;
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const retentionDays = options.retentionDays ?? defaultInboxRetentionDays;
  const pruneIntervalMs = options.pruneIntervalMs ?? defaultPruneIntervalMs;
  const log = options.log ?? writeToConsole;
  const counts: ClerkWebhookCounts = {
    applied: 0,
    duplicate: 0,
    deadLettered: 0,
    ignoredType: 0,
    ignoredInstance: 0,
    rejected: 0,
    failed: 0,
  };
  let verifier: Webhook | null = null;
  // For the operator's log only: an unauthenticated caller must not learn configuration names.
  let configError: string | null = null;
  if (!options.signingSecret) {
    configError = "CLERK_WEBHOOK_SIGNING_SECRET is not set";
  } else {
    try {
      verifier = new Webhook(options.signingSecret);
    } catch {
      configError = "CLERK_WEBHOOK_SIGNING_SECRET is not a valid whsec_ secret";
    }
  }
  let lastPruneStartedAtMs: number | null = null;

  const emit = guardedEmitter(options.onEvent);

  function write(entry: ClerkWebhookLogEntry) {
    try {
      log(entry);
    } catch {
      // A broken logger must not turn an applied event into a retry.
    }
  }

  function answer(
    status: number,
    entry: Omit<ClerkWebhookDeliveryLogEntry, "level" | "status"> & { level?: ClerkWebhookDeliveryLogEntry["level"] },
    body: Record<string, unknown>,
  ) {
    const level = entry.level ?? (status >= 500 ? "error" : status >= 400 ? "warn" : "info");
    write({ ...entry, level, status });
    return Response.json(body, { status });
  }

  function reject(status: number, reason: string, svixId: string | null) {
    counts.rejected++;
    return answer(status, { eventType: null, svixId, outcome: "rejected", reason }, { error: reason });
  }

  async function handle(request: Request): Promise<Response> {
    const startedAtMs = Date.now();
    if (!verifier) {
      return answer(503, { eventType: null, svixId: null, outcome: "not_configured", reason: configError ?? "not_configured" }, { error: "not_configured" });
    }
    if (request.method !== "POST") return reject(405, "method_not_allowed", null);

    const svixId = request.headers.get("svix-id") ?? request.headers.get("webhook-id");
    const svixTimestamp = request.headers.get("svix-timestamp") ?? request.headers.get("webhook-timestamp");
    const svixSignature = request.headers.get("svix-signature") ?? request.headers.get("webhook-signature");
    const loggableId = svixId ? svixId.slice(0, maxSvixIdLength) : null;
    if (!svixId || !svixTimestamp || !svixSignature) return reject(400, "missing_headers", loggableId);
    if (svixId.length > maxSvixIdLength) return reject(400, "invalid_svix_id", loggableId);

    const read = await readBody(request, maxBodyBytes);
    if (read === "too_large") return reject(413, "body_too_large", svixId);
    if (read === "unreadable") return reject(400, "unreadable_body", svixId);
    const body = read.text;

    try {
      // Over the raw bytes as received: re-serialized JSON would not match (Standard Webhooks).
      verifier.verify(
        body,
        { "webhook-id": svixId, "webhook-timestamp": svixTimestamp, "webhook-signature": svixSignature },
        { jsonParse: false },
      );
    } catch (error) {
      return reject(400, verificationReason(error), svixId);
    }

    // Authentic from here on. Everything below either applies, ignores or dead-letters it.
    const delivery: Delivery = {
      svixId,
      receivedAt: new Date(startedAtMs),
      startedAtMs,
      eventType: null,
      clerkUserId: null,
      eventTimestampMs: null,
    };
    let usedDatabase = false;
    let response: Response;
    try {
      const processed = await processDelivery(delivery, body);
      usedDatabase = processed.usedDatabase;
      response = processed.response;
    } catch (error) {
      usedDatabase = true;
      response = await failed(delivery, error);
    }
    // Upkeep only where the database was in use anyway: rejected and ignored deliveries stay free.
    if (usedDatabase) pruneInBackground();
    return response;
  }

  async function processDelivery(delivery: Delivery, body: string): Promise<{ response: Response; usedDatabase: boolean }> {
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return { response: await deadLetter(delivery, "invalid_json"), usedDatabase: true };
    }
    delivery.eventType = typeOf(payload);
    delivery.clerkUserId = userIdOf(payload);
    delivery.eventTimestampMs = timestampOf(payload);
    if (options.instanceId !== undefined) {
      const instanceId = (payload as { instance_id?: unknown } | null)?.instance_id;
      if (instanceId !== options.instanceId) {
        counts.ignoredInstance++;
        // Another instance's endpoint secret, or a shared one: worth an operator's look.
        const response = answer(
          200,
          { level: "warn", eventType: delivery.eventType, svixId: delivery.svixId, outcome: "ignored_instance", reason: "other_instance" },
          { outcome: "ignored_instance" },
        );
        return { response, usedDatabase: false };
      }
    }
    // Types this handler does not apply are acknowledged whatever else their envelope holds.
    if (delivery.eventType !== null && !handledTypes.has(delivery.eventType)) {
      counts.ignoredType++;
      const response = answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "ignored_type" }, { outcome: "ignored_type" });
      return { response, usedDatabase: false };
    }
    const parsed = envelopeSchema.safeParse(payload);
    if (!parsed.success) {
      return { response: await deadLetter(delivery, `invalid_envelope: ${describeIssues(parsed.error).join("; ")}`), usedDatabase: true };
    }
    const envelope = parsed.data;

    let write: PushedWrite;
    if (envelope.type === "user.deleted") {
      const deleted = deletedUserSchema.safeParse(envelope.data);
      if (!deleted.success) {
        return { response: await deadLetter(delivery, `malformed_deleted_user: ${describeIssues(deleted.error).join("; ")}`), usedDatabase: true };
      }
      // Deletion data has no updated_at: the event's own time is its clock, so it is required here.
      const deletedAtMs = envelope.timestamp;
      if (deletedAtMs === undefined) {
        return { response: await deadLetter(delivery, "invalid_envelope: timestamp: invalid_type"), usedDatabase: true };
      }
      write = { kind: "tombstone", userId: deleted.data.id, clerkClockMs: deletedAtMs };
    } else {
      let snapshot: ReturnType<typeof snapshotFromUserJson>;
      try {
        snapshot = snapshotFromUserJson(envelope.data);
      } catch (error) {
        if (!(error instanceof MalformedClerkUserError)) throw error;
        return { response: await deadLetter(delivery, `malformed_user: ${error.issues.join("; ")}`), usedDatabase: true };
      }
      write = { kind: "upsert", user: snapshot };
    }

    let result = await applyOnce(delivery, write);
    if (result === "diverged") result = await refetchDiverged(delivery, write);
    if (result === "duplicate") {
      counts.duplicate++;
      return {
        response: answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "duplicate" }, { outcome: "duplicate" }),
        usedDatabase: true,
      };
    }
    counts.applied++;
    if (result.outcome !== "diverged") {
      emit({ source: "webhook", outcome: result.outcome, clerkFetched: result.refetched, durationMs: Date.now() - delivery.startedAtMs });
    }
    return {
      response: answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: result.outcome }, { outcome: result.outcome }),
      usedDatabase: true,
    };
  }

  /**
   * The effect and its inbox row in ONE statement (atomic, one round trip): the write applies
   * only if the `svix-id` is not in the inbox yet, and the inbox row records its outcome. A
   * concurrent delivery of the same message waits on the inbox key and, once the first commits,
   * records nothing: it is a duplicate, and its write was a no-op (the write path is idempotent:
   * equal clocks write nothing, a tombstone is not written again). A `diverged` payload (the
   * row's clock with other values) records nothing when a refetch can settle it.
   */
  async function applyOnce(
    delivery: Delivery,
    write: PushedWrite,
  ): Promise<{ outcome: WriteOutcome | "diverged"; refetched: boolean } | "duplicate" | "diverged"> {
    const db = await options.db();
    const inbox = clerkWebhookEvents;
    const userId = write.kind === "upsert" ? write.user.id : write.userId;
    const known = sql`exists (select 1 from ${inbox} where ${inbox.svixId} = ${delivery.svixId}::text)`;
    const effect = pushedWriteStatement(table, write, sql`not ${known}`);
    const column = (key: keyof typeof inbox._.columns) => sql.identifier(inbox[key].name);
    const [row] = rowsOf<{ recorded: WriteOutcome | "diverged" | null; outcome: WriteOutcome | "diverged"; known: boolean }>(
      await db.execute(sql`
        with user_sync_known as (select ${known} as known),
        user_sync_write as (${effect.insert}),
        user_sync_outcome as (select coalesce((select outcome from user_sync_write), ${effect.outcomeIfNotWritten}) as outcome),
        user_sync_recorded as (
          insert into ${inbox} (${column("svixId")}, ${column("eventType")}, ${column("clerkUserId")}, ${column("eventTimestampMs")}, ${column("outcome")},
            ${column("receivedAt")}, ${column("processedAt")})
          select ${delivery.svixId}::text, ${delivery.eventType}::text, ${userId}::text, ${delivery.eventTimestampMs}::bigint,
            o.outcome, ${delivery.receivedAt.toISOString()}::timestamptz, clock_timestamp()
          from user_sync_outcome as o
          where ${options.refetch ? sql`o.outcome <> 'diverged'` : sql`true`}
          on conflict (${column("svixId")}) do nothing
          returning ${column("outcome")} as outcome
        )
        select (select outcome from user_sync_recorded) as recorded, (select outcome from user_sync_outcome) as outcome,
          (select known from user_sync_known) as known`),
    );
    if (row?.recorded) return { outcome: row.recorded, refetched: false };
    if (row && !row.known && row.outcome === "diverged") return "diverged";
    return "duplicate";
  }

  /**
   * A diverged payload: Clerk's current answer settles it (fetched, within the shared budget,
   * written with the fetched authority that wins an equal clock), then the delivery is recorded
   * with that write's outcome. If Clerk cannot answer now, nothing is recorded and the delivery
   * answers 503: Svix retries it. A user Clerk no longer has is left to its `user.deleted` event.
   */
  async function refetchDiverged(delivery: Delivery, write: PushedWrite): Promise<{ outcome: WriteOutcome | "diverged"; refetched: boolean } | "duplicate"> {
    const userId = write.kind === "upsert" ? write.user.id : write.userId;
    const answer = await options.refetch!(userId);
    const outcome = answer === "not_found" ? "diverged" : answer.outcome;
    const db = await options.db();
    const recorded = await db
      .insert(clerkWebhookEvents)
      .values({
        svixId: delivery.svixId,
        eventType: delivery.eventType,
        clerkUserId: userId,
        eventTimestampMs: delivery.eventTimestampMs,
        outcome,
        receivedAt: delivery.receivedAt,
        processedAt: sql`clock_timestamp()`,
      })
      .onConflictDoNothing({ target: clerkWebhookEvents.svixId })
      .returning({ outcome: clerkWebhookEvents.outcome });
    return recorded.length ? { outcome, refetched: true } : "duplicate";
  }

  /**
   * Records a signed delivery that can never apply and acknowledges it, so Svix does not retry
   * it for days and then disable the endpoint. Throws `DeadLetterNotRecorded` when the record
   * cannot be written: then nothing is acknowledged.
   */
  async function deadLetter(delivery: Delivery, reason: string): Promise<Response> {
    const boundedReason = reason.slice(0, 500);
    try {
      const db = await options.db();
      await db
        .insert(clerkWebhookEvents)
        .values({
          svixId: delivery.svixId,
          eventType: delivery.eventType,
          clerkUserId: delivery.clerkUserId,
          eventTimestampMs: delivery.eventTimestampMs,
          outcome: "dead_letter",
          deadLetterReason: boundedReason,
          receivedAt: delivery.receivedAt,
        })
        .onConflictDoNothing({ target: clerkWebhookEvents.svixId });
    } catch (error) {
      throw new DeadLetterNotRecorded(error);
    }
    counts.deadLettered++;
    return answer(
      200,
      { level: "warn", eventType: delivery.eventType, svixId: delivery.svixId, outcome: "dead_letter", reason: boundedReason },
      { outcome: "dead_letter" },
    );
  }

  /**
   * A delivery whose processing threw. A database error no retry can get past is dead-lettered
   * (its effect already rolled back with the statement); anything else is answered non-2xx
   * so Svix retries, and since nothing was recorded the retry applies it.
   */
  async function failed(delivery: Delivery, error: unknown): Promise<Response> {
    const durationMs = () => Date.now() - delivery.startedAtMs;
    const cause = error instanceof DeadLetterNotRecorded ? error.cause : error;
    if (cause instanceof UserSyncError && !(error instanceof DeadLetterNotRecorded)) {
      // The refetch of a diverged payload: Clerk or the database could not settle it now.
      emit({ source: "webhook", outcome: "error", clerkFetched: cause.code.startsWith("CLERK_"), durationMs: durationMs(), errorCode: cause.code });
      if (cause.code === "DATABASE_REJECTED") {
        try {
          return await deadLetter(delivery, "database_error: DATABASE_REJECTED");
        } catch (deadLetterError) {
          return retryLater(delivery, deadLetterError);
        }
      }
      return retryLater(delivery, cause);
    }
    const code = databaseErrorCode(cause);
    if (isDatabaseError(cause) && classifyDatabaseError(cause) === "permanent" && !(error instanceof DeadLetterNotRecorded)) {
      emit({ source: "webhook", outcome: "error", clerkFetched: false, durationMs: durationMs(), errorCode: "DATABASE_REJECTED" });
      try {
        return await deadLetter(delivery, `database_error: ${code}`);
      } catch (deadLetterError) {
        return retryLater(delivery, deadLetterError);
      }
    }
    emit({
      source: "webhook",
      outcome: "error",
      clerkFetched: false,
      durationMs: durationMs(),
      errorCode: isDatabaseError(cause) ? "DATABASE_UNAVAILABLE" : "UNKNOWN",
    });
    return retryLater(delivery, error);
  }

  function retryLater(delivery: Delivery, error: unknown): Response {
    counts.failed++;
    const notRecorded = error instanceof DeadLetterNotRecorded;
    const cause = notRecorded ? error.cause : error;
    if (cause instanceof UserSyncError) {
      // Svix retries a 503; nothing was recorded, so the retry settles the delivery.
      const reason = `${notRecorded ? "dead_letter_not_recorded: " : ""}${cause.code}`;
      return answer(503, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "failed", reason }, { error: cause.code.toLowerCase() });
    }
    const databaseError = isDatabaseError(cause);
    const reason = `${notRecorded ? "dead_letter_not_recorded: " : ""}${errorReason(cause)}`;
    return answer(
      databaseError ? 503 : 500,
      { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "failed", reason },
      { error: databaseError ? "database_unavailable" : "internal_error" },
    );
  }

  /** Starts a prune at most once per `pruneIntervalMs` in this process, without awaiting it. */
  function pruneInBackground() {
    if (pruneIntervalMs <= 0) return;
    const nowMs = Date.now();
    if (lastPruneStartedAtMs !== null && nowMs - lastPruneStartedAtMs < pruneIntervalMs) return;
    lastPruneStartedAtMs = nowMs;
    const prune = async () => {
      await pruneInbox().catch(() => undefined);
    };
    if (!scheduleInBackground(options.schedule, prune)) void prune();
  }

  /**
   * Deletes processed inbox rows older than the retention window, in bounded batches, with one
   * pruner at a time across all instances; dead letters are kept. For a cron (the handler also
   * runs it now and then after a delivery). Logs a line when it deleted rows or failed.
   */
  async function pruneInbox(overrides: Partial<InboxPruneOptions> = {}): Promise<InboxPruneResult> {
    try {
      const result = await pruneWebhookInbox(await options.db(), { retentionDays, ...overrides, table: clerkWebhookEvents });
      if (result.deletedRows > 0) write({ level: "info", task: "prune_inbox", deletedRows: result.deletedRows });
      return result;
    } catch (error) {
      // Nothing is lost when a prune fails: the rows wait for the next one.
      write({ level: "warn", task: "prune_inbox", deletedRows: 0, reason: errorReason(error) });
      throw error;
    }
  }

  return {
    /** Handles one delivery; resolves to the response for Svix. Never throws. */
    handle,
    /** `handle` as a Next.js route handler: `export const { POST } = userSync.webhook`. */
    POST: handle,
    /** In-process counters since start (ignored instances, dead letters, …). */
    counts: (): Readonly<ClerkWebhookCounts> => ({ ...counts }),
    pruneInbox,
    /**
     * Deletes dead letters by `svix-id`, by age or all; returns how many. Once one is cleared, a
     * replay of its message from the Svix dashboard is applied (after the cause is fixed).
     */
    clearDeadLetters: async (selection: DeadLetterSelection): Promise<number> => clearWebhookDeadLetters(await options.db(), selection, clerkWebhookEvents),
  };
}

export type ClerkWebhookHandler = ReturnType<typeof createClerkWebhookHandler>;

/** Reads the body, refusing (without buffering) anything longer than `maxBytes`. */
async function readBody(request: Request, maxBytes: number): Promise<{ text: string } | "too_large" | "unreadable"> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return "too_large";
  if (!request.body) return { text: "" };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let totalBytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      totalBytes += value.byteLength;
      if (totalBytes > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return "too_large";
      }
      chunks.push(value);
    }
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)) };
  } catch {
    return "unreadable";
  }
}

function verificationReason(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (message.includes("too old") || message.includes("too new")) return "timestamp_out_of_tolerance";
  if (message.includes("Invalid Signature Headers")) return "invalid_timestamp";
  if (message.includes("Missing required headers")) return "missing_headers";
  return "invalid_signature";
}

function typeOf(payload: unknown): string | null {
  const type = (payload as { type?: unknown } | null)?.type;
  return typeof type === "string" && type.length > 0 ? type.slice(0, 100) : null;
}

function userIdOf(payload: unknown): string | null {
  const id = (payload as { data?: { id?: unknown } } | null)?.data?.id;
  return typeof id === "string" && id.length <= 100 ? id : null;
}

function timestampOf(payload: unknown): number | null {
  const timestamp = (payload as { timestamp?: unknown } | null)?.timestamp;
  return typeof timestamp === "number" && Number.isSafeInteger(timestamp) && timestamp > 0 ? timestamp : null;
}

/** A code only: database messages quote row values, and drizzle's wrapper quotes parameters. */
function errorReason(error: unknown): string {
  const code = databaseErrorCode(error);
  if (code !== null) return `database_error: ${code}`;
  return `internal_error: ${error instanceof Error ? error.name.slice(0, 60) : typeof error}`;
}

function writeToConsole(entry: ClerkWebhookLogEntry) {
  const { level, ...fields } = entry;
  console[level]("clerk-webhook", JSON.stringify(fields));
}
