/**
 * The walk of Clerk's user list, a page per batch. Full mode follows the `starting_after` cursor
 * in `+created_at` order (never a deep offset): the checkpoint is the cursor, deletions cannot
 * shift it, users created during the walk come at its end; a cursor Clerk refuses (its user
 * deleted meanwhile), or an empty page after it, is looked at again from its `created_at`.
 * Incremental mode walks `-updated_at` by offset, with overlapping pages whose continuity is
 * checked, never deeper than its depth.
 */
import { ClerkRefusedError } from "../clerk/backend-api";
import type { ReconcileAttempt } from "./attempt";
import { idOf, parseUsers, updatedAtOf } from "./users";

/** Clerk's largest page: `limit` over 500 is not refused, it silently answers 10 users. */
export const maxPageSize = 500;
/** Incremental runs never ask for an offset at or past this many users (the default `incrementalMaxDepth`). */
export const defaultIncrementalMaxDepth = 5_000;
/** Step-backs of an incremental walk whose pages stopped overlapping (Clerk's list shrinking fast) before it gives up. */
const maxIncrementalStepBacks = 20;

/** Users per list page, 1–500 (Clerk's maximum by default; anything else is clamped). */
export function pageSizeOf(attempt: ReconcileAttempt) {
  return Math.min(maxPageSize, Math.max(1, Math.floor(attempt.options.pageSize ?? maxPageSize)));
}

/** A user's place in `+created_at` order: what a `starting_after` cursor stands on. */
type Cursor = { id: string; createdAtMs: number };

function cursorOf(users: readonly unknown[], previous: Cursor | null): Cursor | null {
  const last = users[users.length - 1] as { id?: unknown; created_at?: unknown } | undefined;
  if (!last || typeof last.id !== "string") return previous;
  return { id: last.id, createdAtMs: typeof last.created_at === "number" ? last.created_at : (previous?.createdAtMs ?? 0) };
}


export async function walkFull(attempt: ReconcileAttempt) {
  const { clerk, run } = attempt;
  const signal = attempt.options.signal;
  const pageSize = pageSizeOf(attempt);
  const clerkTotal = await clerk.count();
  let cursor: Cursor | null = run.walkCursor ? { id: run.walkCursor, createdAtMs: run.walkCursorCreatedAtMs ?? 0 } : null;
  /** Whether `next` looks for the place by `created_at` instead of the cursor. */
  let anchored = false;
  /** The cursor whose empty page was already checked (at most once per place). */
  let checkedEndAt: string | null = null;
  const fetchPage = (from: Cursor | null, anchor: boolean) => {
    // `created_at_after` is strict: one ms earlier keeps the users created in the cursor's own ms.
    const query = anchor && from
      ? { limit: pageSize, order_by: "+created_at", created_at_after: from.createdAtMs - 1 }
      : { limit: pageSize, order_by: "+created_at", starting_after: from?.id };
    const fetching = clerk.list(query);
    // Read ahead while a page commits; if that commit fails, nobody awaits this one.
    fetching.catch(() => undefined);
    return fetching;
  };
  let next = fetchPage(cursor, false);
  for (;;) {
    signal?.throwIfAborted();
    let users: unknown[];
    try {
      users = await next;
    } catch (error) {
      // Clerk refuses a cursor whose user is gone (deleted during the walk, or before a
      // resume): the place is found again by the cursor's created_at.
      if (!(error instanceof ClerkRefusedError) || anchored || !cursor) throw error;
      anchored = true;
      next = fetchPage(cursor, true);
      continue;
    }
    const wasAnchored = anchored;
    anchored = false;
    const after = cursorOf(users, cursor);
    let done = false;
    if (users.length === pageSize) {
      next = fetchPage(after, false);
    } else if (users.length === 0 && !wasAnchored && cursor && cursor.id !== checkedEndAt) {
      // A short page is the end. An empty one after a cursor may also be a Clerk that answers
      // nothing for a cursor whose user was deleted: looked at once from its created_at.
      checkedEndAt = cursor.id;
      anchored = true;
      next = fetchPage(cursor, true);
    } else {
      done = true;
    }
    if (users.length > 0 || done) {
      await attempt.commitBatch({
        parsed: parseUsers(users),
        checkpoint: { walkCursor: after?.id, walkCursorCreatedAtMs: after?.createdAtMs, clerkTotal, phase: done ? "confirm" : undefined },
      });
    }
    cursor = after;
    attempt.progress("walk");
    if (done) return;
  }
}

export async function walkIncremental(attempt: ReconcileAttempt) {
  const { clerk, options } = attempt;
  const pageSize = pageSizeOf(attempt);
  const maxDepth = options.incrementalMaxDepth ?? defaultIncrementalMaxDepth;
  const overlap = Math.max(1, Math.floor(pageSize / 10));
  const stopAtMs = attempt.run.stopAtMs;
  let offset = 0;
  let previous: { tail: Set<string>; lowestUpdatedAtMs: number } | null = null;
  let stepBacks = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    if (offset >= maxDepth) {
      return attempt.refuse(
        "INCREMENTAL_TOO_DEEP",
        `More users changed since the last run than an incremental run reads (${maxDepth}, without asking Clerk for a deeper offset): what it read was applied; run a full reconciliation (mode=full).`,
      );
    }
    const users = await clerk.list({ limit: pageSize, offset, order_by: "-updated_at" });
    // Pages overlap: the new one must start inside the last one (one of its last users, or a
    // newer clock than its oldest), else users were deleted meanwhile and the list moved up
    // past some: step back and read again.
    if (previous && offset > 0) {
      const first = users[0];
      const firstUpdatedAtMs = first === undefined ? null : updatedAtOf(first);
      const continuous =
        users.some((user) => previous!.tail.has(idOf(user) ?? "")) || (firstUpdatedAtMs !== null && firstUpdatedAtMs > previous.lowestUpdatedAtMs);
      if (!continuous) {
        if (++stepBacks > maxIncrementalStepBacks) throw new Error("Clerk's list kept shifting under the incremental walk");
        offset = Math.max(0, offset - (pageSize - overlap));
        continue;
      }
    }
    const newer = stopAtMs === null ? users : users.filter((user) => !((updatedAtOf(user) ?? Infinity) < stopAtMs));
    const reachedMark = newer.length < users.length;
    const last = users.length < pageSize || reachedMark;
    await attempt.commitBatch({ parsed: parseUsers(newer), checkpoint: { walkOffset: offset + users.length, phase: last ? "done" : undefined } });
    attempt.progress("walk");
    if (last) return;
    const tail = users.slice(-overlap).map(idOf).filter((id): id is string => id !== null);
    const lowest = updatedAtOf(users[users.length - 1]);
    previous = { tail: new Set(tail), lowestUpdatedAtMs: lowest ?? Number.NEGATIVE_INFINITY };
    offset += pageSize - overlap;
  }
}
