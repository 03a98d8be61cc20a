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
import { Webhook } from "standardwebhooks";

import { guardedEmitter } from "../events";
import { BodyTooLargeError, readWithCap } from "../request-body";
import { defaultUserSyncTables, syncedTableOf } from "../schema";
import { failedDelivery, processDelivery, type DeliveryContext } from "./delivery";
import { clearWebhookDeadLetters, createInboxPruner, defaultInboxRetentionDays, type DeadLetterSelection } from "./inbox";
import { createResponder, errorReason, writeToConsole } from "./responses";
import { defaultMaxBodyBytes, defaultPruneIntervalMs, type ClerkWebhookCounts, type ClerkWebhookOptions, type Delivery } from "./types";

// Svix message ids are `msg_` plus 27 characters; anything far longer is not one.
const maxSvixIdLength = 200;

/**
 * The handler behind `POST /api/webhooks/clerk`. Status codes:
 * 200 applied, duplicate, ignored or dead-lettered · 400 missing headers or bad signature ·
 * 405 not POST · 413 body over `maxBodyBytes` · 503 transient database failure, or a dead
 * letter that could not be recorded (Svix retries) · 500 unexpected failure (Svix retries) ·
 * 503 no signing secret configured (the body says only that; the log names the variable).
 */
export function createClerkWebhookHandler(options: ClerkWebhookOptions) {
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const counts: ClerkWebhookCounts = { applied: 0, duplicate: 0, deadLettered: 0, ignoredType: 0, ignoredInstance: 0, rejected: 0, failed: 0 };
  const respond = createResponder(options.log ?? writeToConsole, counts);
  const { verifier, configError } = verifierOf(options.signingSecret);
  const inbox = (options.tables ?? defaultUserSyncTables).clerkWebhookEvents;
  const context: DeliveryContext = { options, table: syncedTableOf(options.users), inbox, counts, emit: guardedEmitter(options.onEvent), respond };
  const pruner = createInboxPruner({
    db: options.db,
    inbox,
    retentionDays: options.retentionDays ?? defaultInboxRetentionDays,
    pruneIntervalMs: options.pruneIntervalMs ?? defaultPruneIntervalMs,
    schedule: options.schedule,
    log: respond.write,
    reasonOf: errorReason,
  });

  async function handle(request: Request): Promise<Response> {
    const startedAtMs = Date.now();
    if (!verifier) {
      return respond.answer(503, { eventType: null, svixId: null, outcome: "not_configured", reason: configError ?? "not_configured" }, { error: "not_configured" });
    }
    if (request.method !== "POST") return respond.reject(405, "method_not_allowed", null);

    const svixId = request.headers.get("svix-id") ?? request.headers.get("webhook-id");
    const svixTimestamp = request.headers.get("svix-timestamp") ?? request.headers.get("webhook-timestamp");
    const svixSignature = request.headers.get("svix-signature") ?? request.headers.get("webhook-signature");
    const loggableId = svixId ? svixId.slice(0, maxSvixIdLength) : null;
    if (!svixId || !svixTimestamp || !svixSignature) return respond.reject(400, "missing_headers", loggableId);
    if (svixId.length > maxSvixIdLength) return respond.reject(400, "invalid_svix_id", loggableId);

    const read = await readBody(request, maxBodyBytes);
    if (read === "too_large") return respond.reject(413, "body_too_large", svixId);
    if (read === "unreadable") return respond.reject(400, "unreadable_body", svixId);
    const body = read.text;

    try {
      // Over the raw bytes as received: re-serialized JSON would not match (Standard Webhooks).
      verifier.verify(body, { "webhook-id": svixId, "webhook-timestamp": svixTimestamp, "webhook-signature": svixSignature }, { jsonParse: false });
    } catch (error) {
      return respond.reject(400, verificationReason(error), svixId);
    }

    // Authentic from here on. Everything below either applies, ignores or dead-letters it.
    const delivery: Delivery = { svixId, receivedAt: new Date(startedAtMs), startedAtMs, eventType: null, clerkUserId: null, eventTimestampMs: null };
    let usedDatabase = false;
    let response: Response;
    try {
      ({ response, usedDatabase } = await processDelivery(context, delivery, body));
    } catch (error) {
      usedDatabase = true;
      response = await failedDelivery(context, delivery, error);
    }
    // Upkeep only where the database was in use anyway: rejected and ignored deliveries stay free.
    if (usedDatabase) pruner.pruneInBackground();
    return response;
  }

  return {
    /** Handles one delivery; resolves to the response for Svix. Never throws. */
    handle,
    /** `handle` as a Next.js route handler: `export const { POST } = userSync.webhook`. */
    POST: handle,
    /** In-process counters since start (ignored instances, dead letters, …). */
    counts: (): Readonly<ClerkWebhookCounts> => ({ ...counts }),
    /**
     * Deletes processed inbox rows older than the retention window, in bounded batches, with one
     * pruner at a time across all instances; dead letters are kept. For a cron (the handler also
     * runs it now and then after a delivery). Logs a line when it deleted rows or failed.
     */
    pruneInbox: pruner.pruneInbox,
    /**
     * Deletes dead letters by `svix-id`, by age or all; returns how many. Once one is cleared, a
     * replay of its message from the Svix dashboard is applied (after the cause is fixed).
     */
    clearDeadLetters: async (selection: DeadLetterSelection): Promise<number> => clearWebhookDeadLetters(await options.db(), selection, inbox),
  };
}

export type ClerkWebhookHandler = ReturnType<typeof createClerkWebhookHandler>;

/** The verifier of the signing secret, or (for the operator's log only) why there is none. */
function verifierOf(signingSecret: string | undefined): { verifier: Webhook | null; configError: string | null } {
  // An unauthenticated caller must not learn configuration names: these go to the log only.
  if (!signingSecret) return { verifier: null, configError: "CLERK_WEBHOOK_SIGNING_SECRET is not set" };
  try {
    return { verifier: new Webhook(signingSecret), configError: null };
  } catch {
    return { verifier: null, configError: "CLERK_WEBHOOK_SIGNING_SECRET is not a valid whsec_ secret" };
  }
}

/** Reads the body, refusing (without buffering) anything longer than `maxBytes`. */
async function readBody(request: Request, maxBytes: number): Promise<{ text: string } | "too_large" | "unreadable"> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return "too_large";
  if (!request.body) return { text: "" };
  try {
    const bytes = await readWithCap(request.body, maxBytes);
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch (error) {
    return error instanceof BodyTooLargeError ? "too_large" : "unreadable";
  }
}

function verificationReason(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (message.includes("too old") || message.includes("too new")) return "timestamp_out_of_tolerance";
  if (message.includes("Invalid Signature Headers")) return "invalid_timestamp";
  if (message.includes("Missing required headers")) return "missing_headers";
  return "invalid_signature";
}
