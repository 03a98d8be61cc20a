/**
 * One authentic delivery, from its envelope to the write path: parsed (JSON, instance, type,
 * envelope, user), applied once through the inbox, a `diverged` payload settled by a refetch,
 * and anything that can never apply dead-lettered. Failures are sorted here into a dead letter
 * (a database error no retry can get past) or a retry (everything else).
 */
import { z } from "zod";

import { describeIssues, MalformedClerkUserError, snapshotFromUserJson } from "../clerk/user-json";
import { classifyDatabaseError, databaseErrorCode, isDatabaseError } from "../database";
import { UserSyncError } from "../errors";
import type { guardedEmitter } from "../events";
import type { WriteOutcome } from "../outcomes";
import type { SyncedUsersTable } from "../schema";
import type { PushedWrite } from "../write-path";
import { applyOnce, recordDeadLetter, recordRefetched, type Inbox } from "./inbox";
import { DeadLetterNotRecorded, type Responder } from "./responses";
import type { ClerkWebhookCounts, ClerkWebhookOptions, Delivery } from "./types";

/** What a delivery needs from its handler. */
export type DeliveryContext = {
  options: ClerkWebhookOptions;
  table: SyncedUsersTable;
  inbox: Inbox;
  counts: ClerkWebhookCounts;
  emit: ReturnType<typeof guardedEmitter>;
  respond: Responder;
};

const handledTypes = new Set(["user.created", "user.updated", "user.deleted"]);

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

/** Applies, ignores or dead-letters one verified body; `usedDatabase` says whether upkeep may run after it. */
export async function processDelivery(context: DeliveryContext, delivery: Delivery, body: string): Promise<{ response: Response; usedDatabase: boolean }> {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return { response: await deadLetter(context, delivery, "invalid_json"), usedDatabase: true };
  }
  delivery.eventType = typeOf(payload);
  delivery.clerkUserId = userIdOf(payload);
  delivery.eventTimestampMs = timestampOf(payload);
  const ignored = ignoredResponse(context, delivery, payload);
  if (ignored) return { response: ignored, usedDatabase: false };
  const write = pushedWriteOf(payload);
  if (typeof write === "string") return { response: await deadLetter(context, delivery, write), usedDatabase: true };
  return { response: await apply(context, delivery, write), usedDatabase: true };
}

/** Another instance's event, or a type this handler does not apply: acknowledged, nothing written. */
function ignoredResponse({ options, counts, respond }: DeliveryContext, delivery: Delivery, payload: unknown): Response | null {
  if (options.instanceId !== undefined) {
    const instanceId = (payload as { instance_id?: unknown } | null)?.instance_id;
    if (instanceId !== options.instanceId) {
      counts.ignoredInstance++;
      // Another instance's endpoint secret, or a shared one: worth an operator's look.
      return respond.answer(
        200,
        { level: "warn", eventType: delivery.eventType, svixId: delivery.svixId, outcome: "ignored_instance", reason: "other_instance" },
        { outcome: "ignored_instance" },
      );
    }
  }
  // Types this handler does not apply are acknowledged whatever else their envelope holds.
  if (delivery.eventType !== null && !handledTypes.has(delivery.eventType)) {
    counts.ignoredType++;
    return respond.answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "ignored_type" }, { outcome: "ignored_type" });
  }
  return null;
}

/** The write a handled event asks for, or why it can never apply (a dead letter's reason). */
function pushedWriteOf(payload: unknown): PushedWrite | string {
  const parsed = envelopeSchema.safeParse(payload);
  if (!parsed.success) return `invalid_envelope: ${describeIssues(parsed.error).join("; ")}`;
  const envelope = parsed.data;
  if (envelope.type === "user.deleted") {
    const deleted = deletedUserSchema.safeParse(envelope.data);
    if (!deleted.success) return `malformed_deleted_user: ${describeIssues(deleted.error).join("; ")}`;
    // Deletion data has no updated_at: the event's own time is its clock, so it is required here.
    const deletedAtMs = envelope.timestamp;
    if (deletedAtMs === undefined) return "invalid_envelope: timestamp: invalid_type";
    return { kind: "tombstone", userId: deleted.data.id, clerkClockMs: deletedAtMs };
  }
  try {
    return { kind: "upsert", user: snapshotFromUserJson(envelope.data) };
  } catch (error) {
    if (!(error instanceof MalformedClerkUserError)) throw error;
    return `malformed_user: ${error.issues.join("; ")}`;
  }
}

/** The write and its inbox row, once; a `diverged` payload is settled by Clerk's current answer. */
async function apply(context: DeliveryContext, delivery: Delivery, write: PushedWrite): Promise<Response> {
  const { options, counts, respond } = context;
  const db = await options.db();
  let result = await applyOnce(db, { table: context.table, inbox: context.inbox, refetchable: !!options.refetch }, delivery, write);
  if (result === "diverged") result = await refetchDiverged(context, delivery, write);
  if (result === "duplicate") {
    counts.duplicate++;
    return respond.answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: "duplicate" }, { outcome: "duplicate" });
  }
  counts.applied++;
  if (result.outcome !== "diverged") {
    context.emit({ source: "webhook", outcome: result.outcome, clerkFetched: result.refetched, durationMs: Date.now() - delivery.startedAtMs });
  }
  return respond.answer(200, { eventType: delivery.eventType, svixId: delivery.svixId, outcome: result.outcome }, { outcome: result.outcome });
}

/**
 * A diverged payload: Clerk's current answer settles it (fetched, within the shared budget,
 * written with the fetched authority that wins an equal clock), then the delivery is recorded
 * with that write's outcome. If Clerk cannot answer now, nothing is recorded and the delivery
 * answers 503: Svix retries it. A user Clerk no longer has is left to its `user.deleted` event.
 */
async function refetchDiverged(
  { options, inbox }: DeliveryContext,
  delivery: Delivery,
  write: PushedWrite,
): Promise<{ outcome: WriteOutcome | "diverged"; refetched: boolean } | "duplicate"> {
  const userId = write.kind === "upsert" ? write.user.id : write.userId;
  const answer = await options.refetch!(userId);
  const outcome = answer === "not_found" ? "diverged" : answer.outcome;
  const recorded = await recordRefetched(await options.db(), inbox, delivery, userId, outcome);
  return recorded ? { outcome, refetched: true } : "duplicate";
}

/**
 * Records a signed delivery that can never apply and acknowledges it, so Svix does not retry
 * it for days and then disable the endpoint. Throws `DeadLetterNotRecorded` when the record
 * cannot be written: then nothing is acknowledged.
 */
async function deadLetter({ options, inbox, counts, respond }: DeliveryContext, delivery: Delivery, reason: string): Promise<Response> {
  const boundedReason = reason.slice(0, 500);
  try {
    await recordDeadLetter(await options.db(), inbox, delivery, boundedReason);
  } catch (error) {
    throw new DeadLetterNotRecorded(error);
  }
  counts.deadLettered++;
  return respond.answer(
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
export async function failedDelivery(context: DeliveryContext, delivery: Delivery, error: unknown): Promise<Response> {
  const { emit, respond } = context;
  const durationMs = () => Date.now() - delivery.startedAtMs;
  const cause = error instanceof DeadLetterNotRecorded ? error.cause : error;
  if (cause instanceof UserSyncError && !(error instanceof DeadLetterNotRecorded)) {
    // The refetch of a diverged payload: Clerk or the database could not settle it now.
    emit({ source: "webhook", outcome: "error", clerkFetched: cause.code.startsWith("CLERK_"), durationMs: durationMs(), errorCode: cause.code });
    if (cause.code === "DATABASE_REJECTED") {
      try {
        return await deadLetter(context, delivery, "database_error: DATABASE_REJECTED");
      } catch (deadLetterError) {
        return respond.retryLater(delivery, deadLetterError);
      }
    }
    return respond.retryLater(delivery, cause);
  }
  const code = databaseErrorCode(cause);
  if (isDatabaseError(cause) && classifyDatabaseError(cause) === "permanent" && !(error instanceof DeadLetterNotRecorded)) {
    emit({ source: "webhook", outcome: "error", clerkFetched: false, durationMs: durationMs(), errorCode: "DATABASE_REJECTED" });
    try {
      return await deadLetter(context, delivery, `database_error: ${code}`);
    } catch (deadLetterError) {
      return respond.retryLater(delivery, deadLetterError);
    }
  }
  emit({
    source: "webhook",
    outcome: "error",
    clerkFetched: false,
    durationMs: durationMs(),
    errorCode: isDatabaseError(cause) ? "DATABASE_UNAVAILABLE" : "UNKNOWN",
  });
  return respond.retryLater(delivery, error);
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
