import "server-only";

import { isClerkAPIResponseError } from "@clerk/backend/errors";
import { clerkClient } from "@clerk/nextjs/server";
import { sql } from "drizzle-orm";

import { getDb } from "~/server/db";
import { userSync } from "~/server/user-sync";
import type { HealthReport } from "clerk-user-sync/server";

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

/** One hour of write attempts from `user_sync_write_stats`: `counts[source][outcome]`. */
export type WriteHour = {
  hourStart: string;
  counts: Record<string, Record<string, number>>;
  /** `client-sync` writes that changed the mirror (created, updated, restored): the self-heal path. */
  selfHeals: number;
  /** Write attempts of the `webhook` source. */
  webhookWrites: number;
};

/** The console's figures: the plugin's health report plus hourly series for the charts. */
export type ConsoleOverview = {
  health: HealthReport;
  /** The last 24 hours, oldest first, one entry per hour (zeros included). */
  webhookHours: WebhookHour[];
  /** The same 24 hours of write attempts by source and outcome. */
  writeHours: WriteHour[];
  generatedAt: string;
};

// postgres.js answers an array of rows, PGlite `{ rows }`.
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
}

const hourMs = 3_600_000;
const selfHealOutcomes = new Set(["created", "updated", "restored"]);

function emptyHours<T>(firstHourMs: number, make: (hourStart: string) => T): T[] {
  return Array.from({ length: 24 }, (_, i) => make(new Date(firstHourMs + i * hourMs).toISOString()));
}

/**
 * The console's figures. Status, problems and the headline figures are the plugin's health
 * report (the same one `/api/admin/user-sync/health` answers); the hourly series are read
 * after it, so this instance's buffered telemetry (flushed by the health check) is included.
 */
export async function readConsoleOverview(nowMs = Date.now()): Promise<ConsoleOverview> {
  const health = await userSync.health.check();
  const db = await getDb();
  const firstHourMs = nowMs - (nowMs % hourMs) - 23 * hourMs;
  const since = new Date(firstHourMs).toISOString();
  const [deliveries, writes] = await Promise.all([
    db.execute(sql`
      select date_trunc('hour', received_at) as hour_start, outcome, count(*)::int as n
      from clerk_webhook_events
      where received_at >= ${since}::timestamptz
      group by 1, 2`),
    db.execute(sql`
      select date_trunc('hour', bucket_start) as hour_start, source, outcome, sum(count)::float8 as n
      from user_sync_write_stats
      where bucket_start >= ${since}::timestamptz
      group by 1, 2, 3`),
  ]);
  const indexOf = (hourStart: string | Date) => Math.round((new Date(hourStart).getTime() - firstHourMs) / hourMs);

  const webhookHours = emptyHours<WebhookHour>(firstHourMs, (hourStart) => ({ hourStart, counts: {}, total: 0 }));
  for (const row of rowsOf<{ hour_start: string | Date; outcome: string; n: number }>(deliveries)) {
    const hour = webhookHours[indexOf(row.hour_start)];
    if (!hour) continue;
    hour.counts[row.outcome] = (hour.counts[row.outcome] ?? 0) + Number(row.n);
    hour.total += Number(row.n);
  }

  const writeHours = emptyHours<WriteHour>(firstHourMs, (hourStart) => ({ hourStart, counts: {}, selfHeals: 0, webhookWrites: 0 }));
  for (const row of rowsOf<{ hour_start: string | Date; source: string; outcome: string; n: number }>(writes)) {
    const hour = writeHours[indexOf(row.hour_start)];
    if (!hour) continue;
    const n = Number(row.n);
    const bySource = (hour.counts[row.source] ??= {});
    bySource[row.outcome] = (bySource[row.outcome] ?? 0) + n;
    if (row.source === "client-sync" && selfHealOutcomes.has(row.outcome)) hour.selfHeals += n;
    if (row.source === "webhook") hour.webhookWrites += n;
  }

  return { health, webhookHours, writeHours, generatedAt: new Date(nowMs).toISOString() };
}
