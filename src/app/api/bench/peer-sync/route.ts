import { auth, clerkClient } from "@clerk/nextjs/server";

import { env } from "~/env";
import { getDb } from "~/server/db";
import { users } from "~/server/db/schema";

/**
 * The benchmark's peer (`npm run bench`): the recipe people copy today for keeping a users table
 * in step with Clerk, beside `user.sync` in the same app — `auth()`, then
 * `clerkClient().users.getUser` and a plain drizzle upsert on every call, with no cooldown, no
 * Clerk budget, no ordering or tombstone guards. Unless `BENCH_FRAMEWORK_FLOOR=true` it answers
 * 404, like a route that does not exist (the same switch as `bench.noop`).
 */
export async function POST(): Promise<Response> {
  if (!env.BENCH_FRAMEWORK_FLOOR) return Response.json({ error: "not_found" }, { status: 404 });
  const { userId } = await auth();
  if (!userId) return Response.json({ error: "unauthorized" }, { status: 401 });
  const user = await (await clerkClient()).users.getUser(userId);
  const values = {
    email: user.primaryEmailAddress?.emailAddress ?? null,
    phoneNumber: user.primaryPhoneNumber?.phoneNumber ?? null,
    firstName: user.firstName,
    lastName: user.lastName,
    username: user.username,
    imageUrl: user.imageUrl,
    banned: user.banned,
    locked: user.locked,
    clerkUpdatedAt: user.updatedAt,
    lastSyncedAt: new Date(),
  };
  const db = await getDb();
  const [row] = await db
    .insert(users)
    .values({ id: user.id, ...values })
    .onConflictDoUpdate({ target: users.id, set: { ...values, updatedAt: new Date() } })
    .returning();
  return Response.json(row);
}
