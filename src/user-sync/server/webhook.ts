/**
 * Clerk webhooks (delivered by Svix) onto the one write path.
 *
 * - Authentic first: the raw body is verified with `standardwebhooks` (Clerk's own verifier is
 *   built on it) before anything is parsed, and nothing touches the database until it passes.
 * - Ordered by Clerk's clock, never by arrival or by `svix-timestamp` (which changes on every
 *   attempt): upserts by `data.updated_at`, deletions by the envelope `timestamp`, and deletion
 *   wins (see write-path.ts).
 * - At-least-once made exactly-once: the `svix-id` is recorded in `clerk_webhook_events` in the
 *   same transaction as the effect. A redelivery finds the row and does nothing; a delivery that
 *   fails leaves no row and is applied when Svix retries it.
 * - 2xx only after commit. A signed payload that can never apply is kept as a dead letter and
 *   acknowledged, so Svix does not retry it for days and then disable the endpoint.
 * - Quiet: logs carry the event type, the svix-id, the outcome and a reason code, never payload
 *   values. No Clerk API call is made here.
 */
import { eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { z } from "zod";

import { describeIssues, MalformedClerkUserError, snapshotFromUserJson } from "./clerk-user";
import { clerkWebhookEvents, syncedTableOf } from "./schema";
import { guardedEmitter, type UsersTable, type UserSyncEvent } from "./sync";
import { tombstoneClerkUser, upsertClerkUser, type UserSyncDatabase, type WriteOutcome, type WriteResult } from "./write-path";

export type ClerkWebhookOptions = {
  /** The host's database (postgres.js or PGlite drizzle instance). */
  db: () => Promise<UserSyncDatabase>;
  /** The host's users table, built with `userSyncColumns()`. */
  users: UsersTable;
  /** The endpoint's `whsec_…` signing secret. Unset: every delivery is answered 503. */
  signingSecret: string | undefined;
  /** When set, events whose envelope `instance_id` differs are acknowledged and ignored. */
  instanceId?: string;
  /** Larger bodies are refused with 413 before they are read in full. */
  maxBodyBytes?: number;
  onEvent?: (event: UserSyncEvent) => void;
  /** Where the one line per delivery goes; the default writes JSON to the console. */
  log?: (entry: ClerkWebhookLogEntry) => void;
};

/** What happened to one delivery. `WriteOutcome`s mean the event was applied. */
export type DeliveryOutcome =
  | WriteOutcome
  | "duplicate"
  | "dead_letter"
  | "ignored_type"
  | "ignored_instance"
  | "rejected"
  | "failed"
  | "not_configured";

/** One log line per delivery. Never carries payload values. */
export type ClerkWebhookLogEntry = {
  level: "info" | "warn" | "error";
  eventType: string | null;
  svixId: string | null;
  outcome: DeliveryOutcome;
  status: number;
  reason?: string;
};

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

const handledTypes = new Set(["user.created", "user.updated", "user.deleted"]);

// Svix message ids are `msg_` plus 27 characters; anything far longer is not one.
const maxSvixIdLength = 200;

const envelopeSchema = z.object({
  type: z.string().min(1),
  object: z.literal("event"),
  data: z.record(z.string(), z.unknown()),
  /** When the event happened in Clerk, milliseconds. */
  timestamp: z.number().int().positive(),
  instance_id: z.string().optional(),
});

const deletedUserSchema = z.object({
  id: z.string().startsWith("user_"),
  deleted: z.literal(true).optional(),
});

type Delivery = { svixId: string; receivedAt: Date; startedAtMs: number };
type Envelope = z.infer<typeof envelopeSchema>;

/** Thrown inside the transaction when a concurrent delivery of the same message committed first. */
class DuplicateDelivery extends Error {}

/**
 * The handler behind `POST /api/webhooks/clerk`. Status codes:
 * 200 applied, duplicate, ignored or dead-lettered · 400 missing headers or bad signature ·
 * 405 not POST · 413 body over `maxBodyBytes` · 500/503 processing failed (Svix retries) ·
 * 503 no signing secret configured.
 */
export function createClerkWebhookHandler(options: ClerkWebhookOptions) {
  const table = syncedTableOf(options.users);
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
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

  const emit = guardedEmitter(options.onEvent);

  function answer(status: number, entry: Omit<ClerkWebhookLogEntry, "level" | "status">, body: Record<string, unknown>) {
    const level = status >= 500 ? "error" : status >= 400 ? "warn" : "info";
    try {
      log({ level, status, ...entry });
    } catch {
      // A broken logger must not turn an applied event into a retry.
    }
    return Response.json(body, { status });
  }

  function reject(status: number, reason: string, svixId: string | null) {
    counts.rejected++;
    return answer(status, { eventType: null, svixId, outcome: "rejected", reason }, { error: reason });
  }

  async function handle(request: Request): Promise<Response> {
    const startedAtMs = Date.now();
    if (!verifier) {
      return answer(503, { eventType: null, svixId: null, outcome: "not_configured", reason: "no_signing_secret" }, { error: configError });
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
    const delivery: Delivery = { svixId, receivedAt: new Date(startedAtMs), startedAtMs };
    try {
      return await processDelivery(delivery, body);
    } catch (error) {
      counts.failed++;
      const databaseError = isDatabaseError(error);
      emit({
        source: "webhook",
        outcome: "error",
        clerkFetched: false,
        durationMs: Date.now() - startedAtMs,
        errorCode: databaseError ? "DATABASE_UNAVAILABLE" : "UNKNOWN",
      });
      // Any non-2xx makes Svix retry; nothing was recorded, so the retry applies it.
      return answer(
        databaseError ? 503 : 500,
        { eventType: null, svixId, outcome: "failed", reason: errorReason(error) },
        { error: databaseError ? "database_unavailable" : "internal_error" },
      );
    }
  }

  async function processDelivery(delivery: Delivery, body: string): Promise<Response> {
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return deadLetter(delivery, null, null, null, "invalid_json");
    }
    if (options.instanceId !== undefined) {
      const instanceId = (payload as { instance_id?: unknown } | null)?.instance_id;
      if (instanceId !== options.instanceId) {
        counts.ignoredInstance++;
        return answer(
          200,
          { eventType: typeOf(payload), svixId: delivery.svixId, outcome: "ignored_instance", reason: "other_instance" },
          { outcome: "ignored_instance" },
        );
      }
    }
    const parsed = envelopeSchema.safeParse(payload);
    if (!parsed.success) {
      return deadLetter(delivery, typeOf(payload), userIdOf(payload), null, `invalid_envelope: ${describeIssues(parsed.error).join("; ")}`);
    }
    const envelope = parsed.data;
    if (!handledTypes.has(envelope.type)) {
      counts.ignoredType++;
      return answer(200, { eventType: envelope.type, svixId: delivery.svixId, outcome: "ignored_type" }, { outcome: "ignored_type" });
    }

    let userId: string;
    let effect: (db: UserSyncDatabase) => Promise<WriteResult>;
    if (envelope.type === "user.deleted") {
      const deleted = deletedUserSchema.safeParse(envelope.data);
      if (!deleted.success) {
        return deadLetter(delivery, envelope.type, userIdOf(envelope), envelope.timestamp, `malformed_deleted_user: ${describeIssues(deleted.error).join("; ")}`);
      }
      userId = deleted.data.id;
      // Deletion data has no updated_at: the event's own time is its clock.
      effect = (db) => tombstoneClerkUser(db, table, userId, envelope.timestamp);
    } else {
      let snapshot: ReturnType<typeof snapshotFromUserJson>;
      try {
        snapshot = snapshotFromUserJson(envelope.data);
      } catch (error) {
        if (!(error instanceof MalformedClerkUserError)) throw error;
        return deadLetter(delivery, envelope.type, userIdOf(envelope), envelope.timestamp, `malformed_user: ${error.issues.join("; ")}`);
      }
      userId = snapshot.id;
      effect = (db) => upsertClerkUser(db, table, snapshot);
    }

    const result = await applyOnce(delivery, envelope, userId, effect);
    if (result === "duplicate") {
      counts.duplicate++;
      return answer(200, { eventType: envelope.type, svixId: delivery.svixId, outcome: "duplicate" }, { outcome: "duplicate" });
    }
    counts.applied++;
    emit({ source: "webhook", outcome: result.outcome, clerkFetched: false, durationMs: Date.now() - delivery.startedAtMs });
    return answer(200, { eventType: envelope.type, svixId: delivery.svixId, outcome: result.outcome }, { outcome: result.outcome });
  }

  async function applyOnce(
    delivery: Delivery,
    envelope: Envelope,
    userId: string,
    effect: (db: UserSyncDatabase) => Promise<WriteResult>,
  ): Promise<WriteResult | "duplicate"> {
    const db = await options.db();
    try {
      return await db.transaction(async (tx) => {
        // Redeliveries stop here without touching the user row.
        const [seen] = await tx
          .select({ svixId: clerkWebhookEvents.svixId })
          .from(clerkWebhookEvents)
          .where(eq(clerkWebhookEvents.svixId, delivery.svixId));
        if (seen) return "duplicate" as const;
        const result = await effect(tx);
        // If a concurrent delivery of this message holds the key, this waits for it; once it
        // commits, nothing is inserted and this transaction (with its effect) rolls back.
        const [recorded] = await tx
          .insert(clerkWebhookEvents)
          .values({
            svixId: delivery.svixId,
            eventType: envelope.type,
            clerkUserId: userId,
            eventTimestampMs: envelope.timestamp,
            outcome: result.outcome,
            receivedAt: delivery.receivedAt,
            processedAt: sql`clock_timestamp()`,
          })
          .onConflictDoNothing({ target: clerkWebhookEvents.svixId })
          .returning({ svixId: clerkWebhookEvents.svixId });
        if (!recorded) throw new DuplicateDelivery();
        return result;
      });
    } catch (error) {
      if (error instanceof DuplicateDelivery) return "duplicate";
      throw error;
    }
  }

  async function deadLetter(
    delivery: Delivery,
    eventType: string | null,
    clerkUserId: string | null,
    eventTimestampMs: number | null,
    reason: string,
  ): Promise<Response> {
    const boundedReason = reason.slice(0, 500);
    const db = await options.db();
    await db
      .insert(clerkWebhookEvents)
      .values({
        svixId: delivery.svixId,
        eventType: eventType?.slice(0, 100) ?? null,
        clerkUserId,
        eventTimestampMs,
        outcome: "dead_letter",
        deadLetterReason: boundedReason,
        receivedAt: delivery.receivedAt,
      })
      .onConflictDoNothing({ target: clerkWebhookEvents.svixId });
    counts.deadLettered++;
    // Acknowledged: a payload that can never apply must not be retried for days.
    return answer(
      200,
      { eventType: eventType?.slice(0, 100) ?? null, svixId: delivery.svixId, outcome: "dead_letter", reason: boundedReason },
      { outcome: "dead_letter" },
    );
  }

  return {
    /** Handles one delivery; resolves to the response for Svix. Never throws. */
    handle,
    /** In-process counters since start (ignored instances, dead letters, …). */
    counts: (): Readonly<ClerkWebhookCounts> => ({ ...counts }),
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
  return typeof type === "string" ? type.slice(0, 100) : null;
}

function userIdOf(payload: unknown): string | null {
  const id = (payload as { data?: { id?: unknown } } | null)?.data?.id;
  return typeof id === "string" && id.length <= 100 ? id : null;
}

/** postgres.js and PGlite errors carry a string `code` (SQLSTATE, or ECONNREFUSED and the like). */
function isDatabaseError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof (current as { code?: unknown }).code === "string") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A code only: database messages can quote row values. */
function errorReason(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return `database_error: ${code.slice(0, 40)}`;
    current = (current as { cause?: unknown }).cause;
  }
  return `internal_error: ${error instanceof Error ? error.name : typeof error}`;
}

function writeToConsole(entry: ClerkWebhookLogEntry) {
  const { level, ...fields } = entry;
  console[level]("clerk-webhook", JSON.stringify(fields));
}
