/** Clerk's users as a reconciliation batch takes them: parsed as webhooks and `user.sync` parse them, and their ids and clocks. */
import { snapshotFromUserJson, type ClerkUserSnapshot } from "../clerk/user-json";

/** Users of one page as parsed for a batch: snapshots to compare, every id walked, malformed ones counted. */
export type ParsedUsers = { snapshots: ClerkUserSnapshot[]; walkedIds: string[]; malformed: number };

/** Clerk's users of one page, parsed as webhooks and `user.sync` parse them; malformed ones are kept apart (they exist in Clerk). */
export function parseUsers(users: readonly unknown[]): ParsedUsers {
  const snapshots: ClerkUserSnapshot[] = [];
  const walkedIds: string[] = [];
  for (const user of users) {
    const id = (user as { id?: unknown } | null)?.id;
    try {
      const snapshot = snapshotFromUserJson(user);
      snapshots.push(snapshot);
      walkedIds.push(snapshot.id);
    } catch {
      if (typeof id === "string" && id) walkedIds.push(id);
    }
  }
  return { snapshots, walkedIds, malformed: users.length - snapshots.length };
}

export const updatedAtOf = (user: unknown): number | null => {
  const value = (user as { updated_at?: unknown } | null)?.updated_at;
  return typeof value === "number" ? value : null;
};
export const idOf = (user: unknown): string | null => {
  const value = (user as { id?: unknown } | null)?.id;
  return typeof value === "string" ? value : null;
};
