/**
 * Which Clerk instance is the app's own, and the proof, fresh for every run, that the Backend
 * API a reconciliation is about to trust is that instance.
 *
 * - The app's instance: `CLERK_INSTANCE_ID` (the `instanceId` option) when set: on Clerk it is
 *   the session token's `kid` and the webhooks' `instance_id`. Otherwise the signing key id of
 *   the sessions this app verified most recently, which `user.sync` records in
 *   `user_sync_clerk_session_keys` (once per process and key): a session token reaches the app
 *   only once `clerkMiddleware` verified it, so its `kid` is the key of the instance users sign
 *   in to. Neither known (a new app no one signed in to, without `CLERK_INSTANCE_ID`): unproven.
 * - The proof: the expected key id is among the keys of the Backend API's `GET /v1/jwks`, read
 *   at the start of each run (Clerk does not rate-limit it; it is not drawn from the budget).
 *   A secret key or `CLERK_API_URL` of another instance answers other keys.
 */
import { desc, sql } from "drizzle-orm";

import { sessionKeyIdOf } from "../clerk/instance";
import type { UserSyncTables } from "../schema";
import type { UserSyncDatabase } from "../database";

type SessionKeysTable = UserSyncTables["userSyncClerkSessionKeys"];

/** The app's own Clerk instance as a signing key id, and where that came from. */
export type ExpectedInstance = { keyId: string; source: "CLERK_INSTANCE_ID" | "session" };

export async function expectedInstance(db: UserSyncDatabase, table: SessionKeysTable, instanceId: string | undefined): Promise<ExpectedInstance | null> {
  if (instanceId) return { keyId: instanceId, source: "CLERK_INSTANCE_ID" };
  const [latest] = await db.select({ keyId: table.keyId }).from(table).orderBy(desc(table.lastSeenAt)).limit(1);
  return latest ? { keyId: latest.keyId, source: "session" } : null;
}

/** Why a run may not trust the Backend API, or null when its JWKS hold the expected key. */
export function instanceRefusal(
  expected: ExpectedInstance | null,
  jwksKeyIds: readonly string[],
): { code: "CLERK_INSTANCE_UNPROVEN" | "CLERK_INSTANCE_MISMATCH"; message: string } | null {
  if (!expected) {
    return {
      code: "CLERK_INSTANCE_UNPROVEN",
      message:
        "The app does not know its Clerk instance yet, so the Backend API cannot be proven to be it: set CLERK_INSTANCE_ID (the ins_… id: the webhooks' instance_id, the kid of a session token), or let one user sign in first. Nothing was written.",
    };
  }
  if (jwksKeyIds.includes(expected.keyId)) return null;
  return {
    code: "CLERK_INSTANCE_MISMATCH",
    message:
      expected.source === "CLERK_INSTANCE_ID"
        ? "CLERK_SECRET_KEY (or CLERK_API_URL) belongs to another Clerk instance than CLERK_INSTANCE_ID: its JWKS lack that key. Nothing was written."
        : "CLERK_SECRET_KEY (or CLERK_API_URL) belongs to another Clerk instance than the one this app's sessions come from: its JWKS lack their signing key. Nothing was written.",
  };
}

/**
 * Records the signing key id of a session `user.sync` served (once per process and key id; a
 * failure is ignored and tried again at the next sync): the app's own instance, for runs
 * without `CLERK_INSTANCE_ID`.
 */
export function createSessionKeyRecorder(options: { db: () => Promise<UserSyncDatabase>; table: SessionKeysTable }) {
  const recorded = new Set<string>();
  return async (sessionToken: string | null): Promise<void> => {
    const keyId = sessionKeyIdOf(sessionToken);
    if (!keyId || recorded.has(keyId) || keyId.length > 200) return;
    try {
      const db = await options.db();
      await db
        .insert(options.table)
        .values({ keyId })
        .onConflictDoUpdate({ target: options.table.keyId, set: { lastSeenAt: sql`now()` } });
      recorded.add(keyId);
    } catch {
      // Not needed for the sync itself.
    }
  };
}
