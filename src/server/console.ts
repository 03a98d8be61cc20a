import "server-only";

import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { clerkClient } from "@clerk/nextjs/server";
import { sql } from "drizzle-orm";

import { getDb } from "~/server/db";

/**
 * Whether a Clerk user may use the admin console: their Clerk `public_metadata.role` is "admin".
 * Read from Clerk's Backend API (session tokens do not carry metadata by default), once per
 * page load or data call; a user Clerk no longer knows is not an admin.
 */
export async function isConsoleAdmin(userId: string): Promise<boolean> {
  try {
    const user = await (await clerkClient()).users.getUser(userId);
    return user.publicMetadata.role === "admin";
  } catch (error) {
    if (isClerkAPIResponseError(error) && error.status === 404) return false;
    throw error;
  }
}

/** One hour of webhook deliveries, by what they did (`created`, `updated`, …, `dead_letter`). */
export type WebhookHour = { hourStart: string; counts: Record<string, number>; total: number };

export type ConsoleOverview = {
  /** Clerk's own user count; null when Clerk could not be asked. */
  clerkUsers: number | null;
  liveUsers: number;
  tombstones: number;
  /** |clerkUsers − liveUsers|; null when Clerk's count is unknown. */
  discrepancy: number | null;
  lastWebhookAt: string | null;
  /** processed_at − Clerk's event time of the last processed delivery. */
  lastWebhookLagMs: number | null;
  deadLetters: number;
  /** The last 24 hours, oldest first, one entry per hour (zeros included). */
  webhookHours: WebhookHour[];
  generatedAt: string;
};

// postgres.js answers an array of rows, PGlite `{ rows }`.
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
}

const hourMs = 3_600_000;

/** The figures of the console, all from PostgreSQL but Clerk's count. */
export async function readConsoleOverview(nowMs = Date.now()): Promise<ConsoleOverview> {
  const db = await getDb();
  const [clerkUsers, userCounts, lastWebhook, deadLetters, hours] = await Promise.all([
    clerkClient()
      .then((clerk) => clerk.users.getCount())
      .catch(() => null),
    db.execute(sql`select count(*) filter (where deleted_at is null)::int as live, count(*) filter (where deleted_at is not null)::int as tombstones from users`),
    db.execute(sql`
      select processed_at, event_timestamp_ms from clerk_webhook_events
      where processed_at is not null order by processed_at desc limit 1`),
    db.execute(sql`select count(*)::int as n from clerk_webhook_events where outcome = 'dead_letter'`),
    db.execute(sql`
      select date_trunc('hour', received_at) as hour_start, outcome, count(*)::int as n
      from clerk_webhook_events
      where received_at >= ${new Date(nowMs - nowMs % hourMs - 23 * hourMs).toISOString()}::timestamptz
      group by 1, 2`),
  ]);
  const counts = rowsOf<{ live: number; tombstones: number }>(userCounts)[0] ?? { live: 0, tombstones: 0 };
  const last = rowsOf<{ processed_at: string | Date; event_timestamp_ms: string | number | null }>(lastWebhook)[0];
  const lastAt = last ? new Date(last.processed_at) : null;
  const firstHourMs = nowMs - (nowMs % hourMs) - 23 * hourMs;
  const webhookHours: WebhookHour[] = Array.from({ length: 24 }, (_, i) => ({ hourStart: new Date(firstHourMs + i * hourMs).toISOString(), counts: {}, total: 0 }));
  for (const row of rowsOf<{ hour_start: string | Date; outcome: string; n: number }>(hours)) {
    const index = Math.round((new Date(row.hour_start).getTime() - firstHourMs) / hourMs);
    const hour = webhookHours[index];
    if (!hour) continue;
    hour.counts[row.outcome] = (hour.counts[row.outcome] ?? 0) + Number(row.n);
    hour.total += Number(row.n);
  }
  return {
    clerkUsers,
    liveUsers: Number(counts.live),
    tombstones: Number(counts.tombstones),
    discrepancy: clerkUsers === null ? null : Math.abs(clerkUsers - Number(counts.live)),
    lastWebhookAt: lastAt?.toISOString() ?? null,
    lastWebhookLagMs: lastAt && last?.event_timestamp_ms != null ? Math.max(0, lastAt.getTime() - Number(last.event_timestamp_ms)) : null,
    deadLetters: Number(rowsOf<{ n: number }>(deadLetters)[0]?.n ?? 0),
    webhookHours,
    generatedAt: new Date(nowMs).toISOString(),
  };
}
