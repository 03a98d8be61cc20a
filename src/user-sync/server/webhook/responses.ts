/**
 * What the handler answers Svix and logs, one line per delivery: the status codes of failures
 * (503 or 500, so Svix retries) and the counters. Never payload values or database messages.
 */
import { databaseErrorCode, isDatabaseError } from "../database";
import { UserSyncError } from "../errors";
import type { ClerkWebhookCounts, ClerkWebhookDeliveryLogEntry, ClerkWebhookLogEntry, Delivery } from "./types";

/** The dead letter itself could not be recorded: nothing may be acknowledged. */
export class DeadLetterNotRecorded extends Error {
  constructor(cause: unknown) {
    super("The dead letter could not be recorded", { cause });
    this.name = "DeadLetterNotRecorded";
  }
}

export type Responder = ReturnType<typeof createResponder>;

/** Answers and logs through `log` (a broken logger changes nothing), counting into `counts`. */
export function createResponder(log: (entry: ClerkWebhookLogEntry) => void, counts: ClerkWebhookCounts) {
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

  return { write, answer, reject, retryLater };
}

/** A code only: database messages quote row values, and drizzle's wrapper quotes parameters. */
export function errorReason(error: unknown): string {
  const code = databaseErrorCode(error);
  if (code !== null) return `database_error: ${code}`;
  return `internal_error: ${error instanceof Error ? error.name.slice(0, 60) : typeof error}`;
}

export function writeToConsole(entry: ClerkWebhookLogEntry) {
  const { level, ...fields } = entry;
  console[level]("clerk-webhook", JSON.stringify(fields));
}
