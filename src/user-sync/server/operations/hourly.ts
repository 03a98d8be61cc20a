/**
 * The operators' hourly series (the console's charts): webhook deliveries by outcome from the
 * inbox, write attempts by source and outcome from the persisted telemetry. Read from the host's
 * own plugin tables (the `tables` option's objects), so a prefix or a schema of the host applies.
 */
import { sql } from "drizzle-orm";

import { executeRows, type UserSyncDatabase } from "../database";
import { dataChangingOutcomes, type WriteOutcome } from "../outcomes";
import type { UserSyncTables } from "../schema";

/** One hour of webhook deliveries, by what they did (`created`, `updated`, …, `dead_letter`). */
export type WebhookHour = { hourStart: string; counts: Record<string, number>; total: number };

/** One hour of write attempts from the write counters: `counts[source][outcome]`. */
export type WriteHour = {
  hourStart: string;
  counts: Record<string, Record<string, number>>;
  /** `client-sync` writes that changed the mirror (created, updated, restored): the self-heal path. */
  selfHeals: number;
  /** Write attempts of the `webhook` source. */
  webhookWrites: number;
};

/** `userSync.hourly()`'s answer: the same hours, oldest first, one entry per hour (zeros included). */
export type HourlySeries = { webhookHours: WebhookHour[]; writeHours: WriteHour[] };

export type HourlySeriesRequest = {
  /** How many hours, the current one last (1 to 24 × 31). @default 24 */
  hours?: number;
  /** The clock the current hour is taken from. @default now */
  now?: Date | number;
};

const hourMs = 3_600_000;
const maxHours = 24 * 31;

function emptyHours<T>(firstHourMs: number, hours: number, make: (hourStart: string) => T): T[] {
  return Array.from({ length: hours }, (_, i) => make(new Date(firstHourMs + i * hourMs).toISOString()));
}

/** The reader behind `userSync.hourly`, on the given tables. */
export function createHourlySeries(options: { db: () => Promise<UserSyncDatabase>; tables: UserSyncTables }) {
  const { clerkWebhookEvents: inbox, userSyncWriteStats: stats } = options.tables;
  return async function hourly(request: HourlySeriesRequest = {}): Promise<HourlySeries> {
    const hours = request.hours ?? 24;
    if (!Number.isInteger(hours) || hours < 1 || hours > maxHours) throw new RangeError(`hours must be an integer from 1 to ${maxHours}`);
    const nowMs = request.now === undefined ? Date.now() : new Date(request.now).getTime();
    if (Number.isNaN(nowMs)) throw new RangeError("now must be a valid date");
    const firstHourMs = nowMs - (nowMs % hourMs) - (hours - 1) * hourMs;
    const since = new Date(firstHourMs).toISOString();
    const [deliveries, writes] = await Promise.all([
      executeRows<{ hour_start: string | Date; outcome: string; n: number }>(
        options.db,
        sql`select date_trunc('hour', ${inbox.receivedAt}) as hour_start, ${inbox.outcome} as outcome, count(*)::int as n
          from ${inbox} where ${inbox.receivedAt} >= ${since}::timestamptz group by 1, 2`,
      ),
      executeRows<{ hour_start: string | Date; source: string; outcome: string; n: number }>(
        options.db,
        sql`select date_trunc('hour', ${stats.bucketStart}) as hour_start, ${stats.source} as source, ${stats.outcome} as outcome, sum(${stats.count})::float8 as n
          from ${stats} where ${stats.bucketStart} >= ${since}::timestamptz group by 1, 2, 3`,
      ),
    ]);
    const indexOf = (hourStart: string | Date) => Math.round((new Date(hourStart).getTime() - firstHourMs) / hourMs);

    const webhookHours = emptyHours<WebhookHour>(firstHourMs, hours, (hourStart) => ({ hourStart, counts: {}, total: 0 }));
    for (const row of deliveries) {
      const hour = webhookHours[indexOf(row.hour_start)];
      if (!hour) continue;
      hour.counts[row.outcome] = (hour.counts[row.outcome] ?? 0) + Number(row.n);
      hour.total += Number(row.n);
    }

    const writeHours = emptyHours<WriteHour>(firstHourMs, hours, (hourStart) => ({ hourStart, counts: {}, selfHeals: 0, webhookWrites: 0 }));
    for (const row of writes) {
      const hour = writeHours[indexOf(row.hour_start)];
      if (!hour) continue;
      const n = Number(row.n);
      const bySource = (hour.counts[row.source] ??= {});
      bySource[row.outcome] = (bySource[row.outcome] ?? 0) + n;
      if (row.source === "client-sync" && dataChangingOutcomes.has(row.outcome as WriteOutcome)) hour.selfHeals += n;
      if (row.source === "webhook") hour.webhookWrites += n;
    }
    return { webhookHours, writeHours };
  };
}
