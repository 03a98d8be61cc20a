/**
 * The app's PostgreSQL client is bounded: a server that never answers fails the connection
 * after DATABASE_CONNECT_TIMEOUT_SECONDS, and PostgreSQL ends a statement after
 * DATABASE_STATEMENT_TIMEOUT_MS, so a hung database cannot hold requests (or user.sync's
 * single-flight entries) open. Behind a transaction pooler (DATABASE_POOL_MODE=transaction,
 * PgBouncer 1.18 started by the test) it connects and both timeouts still hold.
 */
import net from "node:net";

import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { createTestDatabase, type TestDatabase } from "~/test/app-database";
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer } from "#test/pgbouncer";
import { databaseErrorCode } from "clerk-user-sync/server";

let testDb: TestDatabase;
const changed = new Map<string, string | undefined>();

beforeAll(async () => {
  testDb = await createTestDatabase("db_client");
});
afterEach(async () => {
  const db = (globalThis as { userSyncDb?: Promise<{ $client?: { end?: (o: object) => Promise<void> } }> }).userSyncDb;
  await db?.then((d) => d.$client?.end?.({ timeout: 1 })).catch(() => undefined);
  for (const [name, value] of changed) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  changed.clear();
  vi.resetModules();
});
afterAll(() => testDb.close());

/** A fresh `~/server/db` (its env is read when it loads) with `env` set, and its client. */
async function openAppDatabase(env: Record<string, string>) {
  for (const [name, value] of Object.entries(env)) {
    if (!changed.has(name)) changed.set(name, process.env[name]);
    process.env[name] = value;
  }
  // What useDatabaseForApp does: no client cached from an earlier module instance.
  (globalThis as { userSyncDb?: unknown }).userSyncDb = undefined;
  const { getDb } = await import("./index");
  return getDb();
}

describe("the app's database client", () => {
  it("fails a query when the server accepts the connection and never answers (connect timeout)", async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const db = await openAppDatabase({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none`, DATABASE_CONNECT_TIMEOUT_SECONDS: "1" });
      const error = await db.execute(sql`select 1`).catch((e: unknown) => e);
      expect(databaseErrorCode(error)).toBe("CONNECT_TIMEOUT");
    } finally {
      silent.close();
    }
  });

  it("has PostgreSQL cancel a statement that runs past the statement timeout (57014)", async () => {
    const db = await openAppDatabase({ DATABASE_URL: testDb.url, DATABASE_STATEMENT_TIMEOUT_MS: "300" });
    const error = await db.execute(sql`select pg_sleep(5)`).catch((e: unknown) => e);
    expect(databaseErrorCode(error)).toBe("57014");
  });

  // postgres.js 3.4.9 wrote to a closed socket from a setImmediate when a backend died inside a
  // transaction (porsager/postgres#1133, #1154, #1208): an uncaught TypeError that ended the
  // whole process. patches/postgres+3.4.9.patch settles the write instead; vitest fails a run on
  // any uncaught error, so without the patch these tests fail.
  it("survives PostgreSQL ending the connection inside a transaction (failover, pg_terminate_backend)", async () => {
    const db = await openAppDatabase({ DATABASE_URL: testDb.url });
    let backendPid: number | null = null;
    const transaction = db.transaction(async (tx) => {
      const [row] = (await tx.execute(sql`select pg_backend_pid() as pid`)) as unknown as [{ pid: number }];
      backendPid = row.pid;
      await tx.execute(sql`select pg_sleep(2)`);
    });
    await vi.waitFor(() => expect(backendPid).not.toBeNull());
    await testDb.client`select pg_terminate_backend(${backendPid})`;
    expect(databaseErrorCode(await transaction.catch((e: unknown) => e))).toBe("CONNECTION_CLOSED");
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The client opens a new connection for the next request.
    expect(await db.execute(sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });

  it("survives PostgreSQL ending a transaction left idle past idle_in_transaction_session_timeout", async () => {
    const db = await openAppDatabase({ DATABASE_URL: testDb.url, DATABASE_STATEMENT_TIMEOUT_MS: "200" });
    let resumed = false;
    const transaction = db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      await new Promise((resolve) => setTimeout(resolve, 600));
      resumed = true;
      // The connection is gone: this statement and postgres.js's own rollback are the late writes.
      await tx.execute(sql`select 2`);
    });
    expect(databaseErrorCode(await transaction.catch((e: unknown) => e))).toBe("CONNECTION_CLOSED");
    await vi.waitFor(() => expect(resumed).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await db.execute(sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });
});

const noPgBouncer = pgBouncerUnavailable();
if (noPgBouncer) console.warn(noPgBouncer);

describe.skipIf(noPgBouncer !== null)("the app's database client behind a transaction pooler (PgBouncer 1.18, pool_mode=transaction)", () => {
  let pgBouncer: PgBouncer;
  let pooledUrl: string;
  beforeAll(async () => {
    pgBouncer = await startPgBouncer({ upstreamUrl: testDb.url, poolMode: "transaction", poolSize: 2 });
    pooledUrl = pgBouncer.url(new URL(testDb.url).pathname.slice(1));
  });
  afterAll(() => pgBouncer?.stop());

  it("PgBouncer refuses the session-mode client's startup parameters (the reason for DATABASE_POOL_MODE)", async () => {
    const db = await openAppDatabase({ DATABASE_URL: pooledUrl, DATABASE_POOL_MODE: "session" });
    const error = await db.execute(sql`select 1`).catch((e: unknown) => e);
    expect(databaseErrorCode(error)).toBe("08P01");
  });

  it("connects with DATABASE_POOL_MODE=transaction: no startup parameter it refuses, no prepared statement", async () => {
    const db = await openAppDatabase({ DATABASE_URL: pooledUrl, DATABASE_POOL_MODE: "transaction" });
    // More statements at once than the pooler has server connections, several times over.
    for (let round = 0; round < 3; round++) {
      const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => db.execute(sql`select ${i}::int + 1 as n`)));
      expect(rows.map((r) => (r as unknown as { n: number }[])[0]?.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  it("cancels a statement that runs past DATABASE_STATEMENT_TIMEOUT_MS (57014), freeing its server connection", async () => {
    const db = await openAppDatabase({ DATABASE_URL: pooledUrl, DATABASE_POOL_MODE: "transaction", DATABASE_STATEMENT_TIMEOUT_MS: "300" });
    const startedAtMs = Date.now();
    const error = await db.execute(sql`select pg_sleep(${5})`).catch((e: unknown) => e);
    expect(databaseErrorCode(error)).toBe("57014");
    expect(Date.now() - startedAtMs).toBeLessThan(4_000);
    // The server stopped it (not only the client): nothing sleeps any more.
    await vi.waitFor(async () => {
      const sleeping = await testDb.client`select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep%' and state = 'active'`;
      expect(sleeping[0]?.n).toBe(0);
    });
    expect(await db.execute(sql`select ${1}::int as one`)).toEqual([{ one: 1 }]);
  });

  it("ends a transaction left idle past DATABASE_STATEMENT_TIMEOUT_MS, releasing its row locks", async () => {
    await testDb.client`insert into users (id, clerk_updated_at) values ('user_locked', 1)`;
    const db = await openAppDatabase({ DATABASE_URL: pooledUrl, DATABASE_POOL_MODE: "transaction", DATABASE_STATEMENT_TIMEOUT_MS: "300" });
    const transaction = db.transaction(async (tx) => {
      await tx.execute(sql`select id from users where id = ${"user_locked"} for update`);
      // The app awaits something else with the row locked, far longer than the timeout.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await tx.execute(sql`select ${2}::int`);
    });
    const failure = transaction.catch((e: unknown) => e);
    // Within the timeout and a margin, the lock is gone: another session takes it at once.
    await new Promise((resolve) => setTimeout(resolve, 900));
    const locked = await testDb.client`select id from users where id = 'user_locked' for update nowait`.catch((e: { code?: string }) => e.code);
    expect(locked).toEqual([{ id: "user_locked" }]);
    expect(databaseErrorCode(await failure)).not.toBeNull();
  });
});
