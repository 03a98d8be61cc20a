import { UserSyncError } from "../errors";

/** Clerk's user count and when it was read from Clerk. */
export type ClerkUserCount = { count: number; readAt: Date | string };

/** Asks Clerk for its user count, with the time it was read when it comes from a cache (a bare number was read just now). */
export type CountClerkUsers = (options?: {
  /** A count read before this is stale whatever its age: the last reconciliation finished then, and the tiles must not contradict it. */
  readAfter?: Date | null;
}) => Promise<number | ClerkUserCount>;

/** Clerk's count as the health view shows it: the value, when Clerk answered it, and why it could not be read (an error code). */
export type ClerkCountReading = { value: number | null; readAt: string | null; error: string | null };

/**
 * Clerk's count, kept `cacheMs` per instance: a failed read answers the last count known with
 * the failure's code (never its message: messages are not ours to pass on).
 */
export function cachedClerkCount(countClerkUsers: CountClerkUsers, cacheMs: number, now: () => number) {
  let cachedCount: { value: number; atMs: number; readAt: string } | null = null;
  return async function clerkUserCount(readAfter: Date | null): Promise<ClerkCountReading> {
    const readSinceLastReconcile = !readAfter || (cachedCount !== null && Date.parse(cachedCount.readAt) > readAfter.getTime());
    if (cachedCount && now() - cachedCount.atMs < cacheMs && readSinceLastReconcile) return { value: cachedCount.value, readAt: cachedCount.readAt, error: null };
    try {
      const answer = await countClerkUsers({ readAfter });
      const value = typeof answer === "number" ? answer : answer.count;
      if (!Number.isInteger(value) || value < 0) throw new UserSyncError("CLERK_MALFORMED", "Clerk's count is not a count");
      const readAt = (typeof answer === "number" ? new Date(now()) : new Date(answer.readAt)).toISOString();
      cachedCount = { value, atMs: now(), readAt };
      return { value, readAt, error: null };
    } catch (error) {
      // A code only: the count is figures, never user data.
      return { value: cachedCount?.value ?? null, readAt: cachedCount?.readAt ?? null, error: error instanceof UserSyncError ? error.code : "UNKNOWN" };
    }
  };
}
