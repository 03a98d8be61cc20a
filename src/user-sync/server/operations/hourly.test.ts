/**
 * The plugin's console members on a host's PREFIXED table set (`userSyncTables(createTable)`),
 * against the real PostgreSQL: `userSync.hourly` reads the host's inbox and write counters (never
 * the unprefixed names), and `userSync.startReconcile` answers the run id once the run's row
 * exists, hands the rest of the run to the host's `schedule`, and refuses a second start.
 */
import { getTableName } from "drizzle-orm";
import { pgTableCreator } from "drizzle-orm/pg-core";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkUserDirectory, mintSessionToken, signedRequest, testSessionKeyId, testUsers as users, userEvent } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import type { UserSyncLogEntry } from "../events";
import { createUserSync, ReconcileLockedError } from "../index";
import { userSyncTables } from "../schema";

const prefix = "ops_";
/** Every table of the plugin, by its unprefixed name: derived from the schema, so a new table is never left out. */
const pluginTableNames = Object.values(userSyncTables()).map((table) => getTableName(table));

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
let testDb: TestDatabase;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("hourly_prefixed");
  // The plugin's tables as drizzle-kit would create them for `userSyncTables(createTable)`.
  for (const name of pluginTableNames) await testDb.client.unsafe(`create table ${prefix}${name} (like public.${name} including all)`);
});
beforeEach(async () => {
  directory.reset();
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

const tables = userSyncTables(pgTableCreator((name) => `${prefix}${name}`));

function plugin(options: { schedule?: (task: () => Promise<void>) => void; log?: (entry: UserSyncLogEntry) => void } = {}) {
  return createUserSync({
    db: () => Promise.resolve(testDb.db),
    users,
    tables,
    clerk: { secretKey: "sk_live_vitest", apiUrl: clerkApiUrl() },
    webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
    reconcile: { instanceId: testSessionKeyId },
    ...options,
  });
}

const hourMs = 3_600_000;
// 12:30 UTC: the series' last hour starts at 12:00, its first (of 24) at 13:00 the day before.
const now = Date.parse("2026-03-02T12:30:00Z");
const at = (iso: string) => new Date(Date.parse(iso)).toISOString();

async function insertDelivery(table: string, svixId: string, outcome: string, receivedAt: string) {
  await testDb.client.unsafe(`insert into ${table} (svix_id, outcome, received_at, processed_at) values ($1, $2, $3, $3)`, [svixId, outcome, receivedAt]);
}
async function insertWrites(table: string, bucketStart: string, source: string, outcome: string, count: number) {
  await testDb.client.unsafe(
    `insert into ${table} (bucket_start, source, outcome, clerk_fetched, count, duration_ms_total, duration_ms_max) values ($1, $2, $3, true, $4, 0, 0)`,
    [bucketStart, source, outcome, count],
  );
}

describe("userSync.hourly on a prefixed table set", () => {
  it("counts the prefixed inbox and write counters by hour, self-heals from the data-changing outcomes, and never reads the unprefixed tables", async () => {
    for (const [table, scale] of [[`${prefix}clerk_webhook_events`, 1], ["clerk_webhook_events", 100]] as const) {
      for (let i = 0; i < scale; i++) {
        await insertDelivery(table, `msg_a_${i}`, "updated", at("2026-03-02T12:05:00Z"));
        await insertDelivery(table, `msg_b_${i}`, "dead_letter", at("2026-03-02T12:10:00Z"));
        await insertDelivery(table, `msg_c_${i}`, "created", at("2026-03-01T13:00:00Z"));
        // Before the first hour: outside the series.
        await insertDelivery(table, `msg_d_${i}`, "created", at("2026-03-01T12:59:59Z"));
      }
    }
    for (const [table, scale] of [[`${prefix}user_sync_write_stats`, 1], ["user_sync_write_stats", 100]] as const) {
      await insertWrites(table, at("2026-03-02T12:00:00Z"), "client-sync", "created", 2 * scale);
      await insertWrites(table, at("2026-03-02T12:07:00Z"), "client-sync", "restored", 1 * scale);
      await insertWrites(table, at("2026-03-02T12:08:00Z"), "client-sync", "unchanged", 5 * scale);
      await insertWrites(table, at("2026-03-02T12:09:00Z"), "webhook", "updated", 3 * scale);
      await insertWrites(table, at("2026-03-02T11:59:00Z"), "client-sync", "updated", 4 * scale);
      await insertWrites(table, at("2026-03-01T12:00:00Z"), "client-sync", "created", 9 * scale);
    }

    const { webhookHours, writeHours } = await plugin().hourly({ hours: 24, now });
    expect(webhookHours).toHaveLength(24);
    expect(writeHours).toHaveLength(24);
    expect(webhookHours[0]).toEqual({ hourStart: at("2026-03-01T13:00:00Z"), counts: { created: 1 }, total: 1 });
    expect(webhookHours[23]).toEqual({ hourStart: at("2026-03-02T12:00:00Z"), counts: { updated: 1, dead_letter: 1 }, total: 2 });
    expect(webhookHours.slice(1, 23).every((hour) => hour.total === 0)).toBe(true);
    expect(writeHours[23]).toEqual({
      hourStart: at("2026-03-02T12:00:00Z"),
      counts: { "client-sync": { created: 2, restored: 1, unchanged: 5 }, webhook: { updated: 3 } },
      selfHeals: 3,
      webhookWrites: 3,
    });
    expect(writeHours[22]).toEqual({ hourStart: at("2026-03-02T11:00:00Z"), counts: { "client-sync": { updated: 4 } }, selfHeals: 4, webhookWrites: 0 });
    expect(writeHours.reduce((sum, hour) => sum + hour.selfHeals, 0)).toBe(7);

    // A shorter window ends at the same hour.
    const short = await plugin().hourly({ hours: 2, now });
    expect(short.writeHours.map((hour) => hour.selfHeals)).toEqual([4, 3]);
    expect(short.webhookHours.map((hour) => hour.hourStart)).toEqual([at("2026-03-02T11:00:00Z"), at("2026-03-02T12:00:00Z")]);
  });

  it("shows what the plugin itself wrote: a client sync (a self-heal) and a webhook delivery, in the current hour", async () => {
    const userSync = plugin();
    const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };
    directory.add(ada);
    expect(await userSync.service.syncUser(ada.id, { sessionToken: mintSessionToken({ userId: ada.id }) })).toMatchObject({ outcome: "created" });
    const delivery = await userSync.webhook.handle(signedRequest(userEvent("user.updated", { ...ada, lastName: "King", updatedAtMs: 2_000 }), { svixId: "msg_ops" }));
    expect(delivery.status).toBe(200);
    await userSync.telemetry!.flush();

    const { webhookHours, writeHours } = await userSync.hourly();
    expect(webhookHours.at(-1)).toMatchObject({ counts: { updated: 1 }, total: 1 });
    expect(writeHours.at(-1)).toMatchObject({ counts: { "client-sync": { created: 1 }, webhook: { updated: 1 } }, selfHeals: 1, webhookWrites: 1 });
    expect(Date.parse(writeHours.at(-1)!.hourStart)).toBe(Date.now() - (Date.now() % hourMs));
  });

  it("refuses a window it cannot answer", async () => {
    await expect(plugin().hourly({ hours: 0 })).rejects.toThrow(/hours must be an integer/);
    await expect(plugin().hourly({ hours: 1.5 })).rejects.toThrow(/hours must be an integer/);
    await expect(plugin().hourly({ now: Number.NaN })).rejects.toThrow(/now must be a valid date/);
  });
});

describe("userSync.startReconcile on a prefixed table set", () => {
  it("answers the run id once its row exists, hands the rest to schedule, and refuses a second start while the first holds the lease", async () => {
    directory.add({ id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 2_000 });
    const scheduled: (() => Promise<void>)[] = [];
    const userSync = plugin({ schedule: (task) => scheduled.push(task) });
    // Clerk holds its list: the answer cannot have waited for the walk.
    const release = directory.hold();
    const { runId } = await userSync.startReconcile({ dryRun: false, mode: "full" });
    expect(scheduled).toHaveLength(1);
    expect(await userSync.reconcileRun(runId)).toMatchObject({ id: runId, status: "running", interrupted: false, walked: 0 });
    const [row] = await testDb.client.unsafe<{ id: string }[]>(`select id from ${prefix}user_sync_reconcile_runs`);
    expect(row?.id).toBe(runId);

    const second = userSync.startReconcile({ dryRun: true, mode: "full" });
    await expect(second).rejects.toBeInstanceOf(ReconcileLockedError);
    await expect(second).rejects.toMatchObject({ runningRunId: runId });

    release();
    // The scheduled task settles with the run.
    await scheduled[0]!();
    expect(await userSync.reconcileRun(runId)).toMatchObject({ status: "succeeded", missing: 1 });
    expect(await testDb.client`select id from users`).toEqual([{ id: "user_grace" }]);
    const counts = await testDb.client.unsafe<{ n: number }[]>(`select count(*)::int as n from user_sync_reconcile_runs`);
    expect(counts[0]!.n).toBe(0);
  });

  it("logs a run that fails after its start (Clerk refuses the key) by its code only", async () => {
    directory.add({ id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 2_000 });
    const logged: UserSyncLogEntry[] = [];
    const scheduled: (() => Promise<void>)[] = [];
    const userSync = plugin({ schedule: (task) => scheduled.push(task), log: (entry) => logged.push(entry) });
    const release = directory.hold();
    const { runId } = await userSync.startReconcile({ dryRun: true, mode: "full" });
    directory.failNextLists(401, 10);
    release();
    await scheduled[0]!();
    const run = await userSync.reconcileRun(runId);
    // Clerk refused the key: the run ended with that code in its row, and the log has the code alone.
    expect(run).toMatchObject({ status: "abandoned", errorCode: "CLERK_KEY_REJECTED" });
    expect(logged).toEqual([{ level: "warn", event: "reconcile_failed", code: "CLERK_KEY_REJECTED" }]);
  });
});
