/**
 * Upkeep of the webhook inbox (`clerk_webhook_events`) on the real PostgreSQL server: retention
 * in bounded batches with one pruner across instances, dead letters kept until cleared, and the
 * handler's own occasional prune off the response's path. Each DELETE statement's row count is
 * recorded by a statement-level trigger, so the batches are observed from the database's side.
 */
import path from "node:path";

import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { signedRequest, testSchema as schema, testSigningSecret, testUsers as users, userEvent } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createClerkWebhookHandler } from "./handler";
import type { ClerkWebhookLogEntry, ClerkWebhookOptions } from "./types";
import { inboxPruneLockKey } from "./inbox";

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase("webhook_inbox");
  await testDb.client.unsafe(`
    create table prune_statements (id serial primary key, deleted_rows int not null);
    create function record_prune_statement() returns trigger language plpgsql as $$
    begin insert into prune_statements (deleted_rows) select count(*) from deleted_rows; return null; end $$;
    create trigger record_prune_statement after delete on clerk_webhook_events
      referencing old table as deleted_rows for each statement execute function record_prune_statement();`);
});
beforeEach(async () => {
  await testDb.truncate();
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(() => testDb.close());

function handler(overrides: Partial<ClerkWebhookOptions> = {}) {
  return createClerkWebhookHandler({
    db: () => Promise.resolve(testDb.db),
    users,
    signingSecret: testSigningSecret(),
    log: () => undefined,
    pruneIntervalMs: 0,
    ...overrides,
  });
}

/** Inbox rows `ageDays` old: processed ones, or dead letters. */
async function seedInbox(count: number, ageDays: number, kind: "processed" | "dead_letter", prefix = `${kind}_${ageDays}d`) {
  await testDb.client`
    insert into clerk_webhook_events (svix_id, event_type, clerk_user_id, outcome, dead_letter_reason, received_at, processed_at)
    select ${prefix} || '_' || n, 'user.updated', 'user_' || n,
           ${kind === "processed" ? "updated" : "dead_letter"},
           ${kind === "processed" ? null : "malformed_user: id: invalid_type"},
           now() - make_interval(days => ${ageDays}),
           ${kind === "processed" ? testDb.client`now() - make_interval(days => ${ageDays})` : null}
    from generate_series(1, ${count}) as n`;
}

async function inboxCounts() {
  const [row] = await testDb.client<{ processed: number; dead_letters: number }[]>`
    select count(*) filter (where outcome <> 'dead_letter')::int as processed,
           count(*) filter (where outcome = 'dead_letter')::int as dead_letters
    from clerk_webhook_events`;
  return row;
}

async function pruneStatements() {
  return (await testDb.client<{ deleted_rows: number }[]>`select deleted_rows from prune_statements order by id`).map((row) => row.deleted_rows);
}

describe("pruneInbox", () => {
  it("deletes processed rows older than the window in batches of at most batchSize, keeping newer rows and every dead letter", async () => {
    await seedInbox(2_500, 31, "processed");
    await seedInbox(20, 29, "processed");
    await seedInbox(5, 400, "dead_letter");
    const result = await handler().pruneInbox({ batchSize: 1_000 });
    expect(result).toEqual({ deletedRows: 2_500, batches: 3, moreRemaining: false, otherPrunerActive: false });
    // Three DELETE statements, none over the batch size.
    expect(await pruneStatements()).toEqual([1_000, 1_000, 500]);
    expect(await inboxCounts()).toEqual({ processed: 20, dead_letters: 5 });
    const kept = await testDb.client<{ oldest_days: number }[]>`
      select floor(extract(epoch from now() - min(received_at)) / 86400)::int as oldest_days from clerk_webhook_events where outcome <> 'dead_letter'`;
    expect(kept[0]?.oldest_days).toBe(29);
  });

  it("stops at maxBatches and says more remains; the next call carries on", async () => {
    await seedInbox(250, 40, "processed");
    const wh = handler({ retentionDays: 30 });
    expect(await wh.pruneInbox({ batchSize: 100, maxBatches: 2 })).toEqual({ deletedRows: 200, batches: 2, moreRemaining: true, otherPrunerActive: false });
    expect(await wh.pruneInbox({ batchSize: 100, maxBatches: 2 })).toEqual({ deletedRows: 50, batches: 1, moreRemaining: false, otherPrunerActive: false });
    expect(await inboxCounts()).toEqual({ processed: 0, dead_letters: 0 });
  });

  it("honours the configured window (retentionDays)", async () => {
    await seedInbox(10, 8, "processed");
    await seedInbox(10, 6, "processed");
    expect((await handler({ retentionDays: 7 }).pruneInbox()).deletedRows).toBe(10);
    expect(await inboxCounts()).toEqual({ processed: 10, dead_letters: 0 });
  });

  it("is one pruner at a time across instances: while another holds the lock it does nothing, and concurrent instances delete each row once", async () => {
    await seedInbox(2_000, 31, "processed");
    // Another instance pruning: it holds the lock for the length of its batch transaction.
    const other = await testDb.client.reserve();
    try {
      await other.unsafe(`select pg_advisory_lock(${inboxPruneLockKey})`);
      expect(await handler().pruneInbox()).toEqual({ deletedRows: 0, batches: 0, moreRemaining: false, otherPrunerActive: true });
      expect(await inboxCounts()).toEqual({ processed: 2_000, dead_letters: 0 });
      await other.unsafe(`select pg_advisory_unlock(${inboxPruneLockKey})`);
    } finally {
      other.release();
    }

    // Three instances, each with its own connection pool, pruning at once.
    const pools = [1, 2, 3].map(() => postgres(testDb.url, { max: 2, onnotice: () => undefined }));
    try {
      const results = await Promise.all(
        pools.map((client) => handler({ db: () => Promise.resolve(drizzle({ client, schema })) }).pruneInbox({ batchSize: 50, maxBatches: 1_000 })),
      );
      expect(results.reduce((sum, result) => sum + result.deletedRows, 0)).toBe(2_000);
      expect(await inboxCounts()).toEqual({ processed: 0, dead_letters: 0 });
      expect(Math.max(...(await pruneStatements()))).toBeLessThanOrEqual(50);
    } finally {
      await Promise.all(pools.map((client) => client.end({ timeout: 5 })));
    }
  });

  it("runs from the handler after a delivery that used the database, at most once per interval, after the response", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const entries: ClerkWebhookLogEntry[] = [];
    const wh = handler({ pruneIntervalMs: 5 * 60 * 1000, log: (entry) => entries.push(entry) });
    const pruneLines = () => entries.filter((entry) => "task" in entry);
    await seedInbox(30, 31, "processed", "first");

    // Rejected and ignored deliveries never touch the database, so they prune nothing either.
    await wh.handle(signedRequest(userEvent("user.created", { id: "user_ada", updatedAtMs: 1 }), { svixId: "msg_forged", secret: `whsec_${Buffer.from("another-secret-thirty-two-bytes!").toString("base64")}` }));
    await wh.handle(signedRequest({ type: "session.created", object: "event", data: {}, timestamp: 1 }, { svixId: "msg_session" }));
    const applied = await wh.handle(signedRequest(userEvent("user.created", { id: "user_ada", updatedAtMs: 1 }), { svixId: "msg_first" }));
    // The response did not wait for the prune: nothing has been pruned when it is returned.
    expect(await applied.json()).toEqual({ outcome: "created" });
    expect(pruneLines()).toEqual([]);
    await vi.waitFor(() => expect(pruneLines()).toEqual([{ level: "info", task: "prune_inbox", deletedRows: 30 }]));
    expect(await inboxCounts()).toEqual({ processed: 1, dead_letters: 0 });

    // Within the interval: no second prune.
    await seedInbox(30, 31, "processed", "second");
    vi.setSystemTime(Date.now() + 4 * 60 * 1000);
    await wh.handle(signedRequest(userEvent("user.updated", { id: "user_ada", updatedAtMs: 2 }), { svixId: "msg_second" }));
    // A started prune would have logged by now (the first took a few milliseconds).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pruneLines()).toHaveLength(1);
    expect(await inboxCounts()).toEqual({ processed: 32, dead_letters: 0 });

    // Past the interval: the next delivery prunes again.
    vi.setSystemTime(Date.now() + 2 * 60 * 1000);
    await wh.handle(signedRequest(userEvent("user.updated", { id: "user_ada", updatedAtMs: 3 }), { svixId: "msg_third" }));
    await vi.waitFor(() => expect(pruneLines()).toHaveLength(2));
    expect(pruneLines()[1]).toEqual({ level: "info", task: "prune_inbox", deletedRows: 30 });
    expect(await inboxCounts()).toEqual({ processed: 3, dead_letters: 0 });
  });

  it("a failed prune is logged at warn with a code, and never fails a delivery", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    let calls = 0;
    // The delivery's own connection works; the prune's (second) request for the database fails.
    const wh = handler({
      pruneIntervalMs: 60_000,
      log: (entry) => entries.push(entry),
      db: () => (++calls === 1 ? Promise.resolve(testDb.db) : Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))),
    });
    const response = await wh.handle(signedRequest(userEvent("user.created", { id: "user_ada", updatedAtMs: 1 }), { svixId: "msg_ok" }));
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(entries.filter((entry) => "task" in entry)).toEqual([{ level: "warn", task: "prune_inbox", deletedRows: 0, reason: "database_error: ECONNREFUSED" }]));
    await expect(wh.pruneInbox()).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("clearDeadLetters", () => {
  it("deletes only dead letters: by svix-id, by age, or all", async () => {
    await seedInbox(3, 1, "dead_letter", "recent");
    await seedInbox(4, 60, "dead_letter", "old");
    await seedInbox(5, 60, "processed", "processed");
    const wh = handler();
    // A processed row's id is not a dead letter: left alone.
    expect(await wh.clearDeadLetters({ svixIds: ["recent_1", "processed_1", "no_such_id"] })).toBe(1);
    expect(await wh.clearDeadLetters({ svixIds: [] })).toBe(0);
    expect(await wh.clearDeadLetters({ receivedBefore: new Date(Date.now() - 30 * 24 * 3600 * 1000) })).toBe(4);
    expect(await inboxCounts()).toEqual({ processed: 5, dead_letters: 2 });
    expect(await wh.clearDeadLetters({ all: true })).toBe(2);
    expect(await inboxCounts()).toEqual({ processed: 5, dead_letters: 0 });
    await expect(wh.clearDeadLetters({} as { all: true })).rejects.toThrow(TypeError);
  });
});

describe("on the embedded database (PGlite, the demo's default)", () => {
  it("prunes and clears with the same statements", async () => {
    const client = new PGlite();
    try {
      const db = drizzlePglite({ client, schema });
      await migratePglite(db, { migrationsFolder: path.resolve(import.meta.dirname, "../../../../drizzle") });
      await client.exec(`
        insert into clerk_webhook_events (svix_id, outcome, received_at) values
          ('old', 'created', now() - interval '31 days'), ('new', 'created', now());
        insert into clerk_webhook_events (svix_id, outcome, dead_letter_reason, received_at) values
          ('dead', 'dead_letter', 'invalid_json', now() - interval '90 days');`);
      const wh = handler({ db: () => Promise.resolve(db) });
      expect(await wh.pruneInbox()).toEqual({ deletedRows: 1, batches: 1, moreRemaining: false, otherPrunerActive: false });
      expect(await wh.clearDeadLetters({ all: true })).toBe(1);
      expect((await client.query<{ svix_id: string }>("select svix_id from clerk_webhook_events")).rows).toEqual([{ svix_id: "new" }]);
    } finally {
      await client.close();
    }
  });
});
