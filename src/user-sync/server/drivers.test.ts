/**
 * The driver matrix: every path of the plugin (the sync with its cooldown claim, the shared Clerk
 * budget, a webhook delivery, the telemetry flush and prune, the inbox prune, a reconciliation
 * with its lock and checkpoint, the health check, a profile write) through `createUserSync` on
 * every drizzle PostgreSQL driver hosts use, straight to PostgreSQL and through a transaction
 * pooler (PgBouncer 1.18 in pool_mode=transaction, started by the suite), Neon's HTTP and
 * WebSocket drivers against local stand-ins of Neon's endpoints, PGlite, and two plugin
 * instances sharing one node-postgres pool with named prepared statements. Clerk's Backend API is
 * a local HTTP server (the users directory of the test kit, src/user-sync/testing, plus `PATCH /v1/users/:id`).
 *
 * Prints the matrix (path × driver): `npm run test:drivers`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

import { getTableName, sql } from "drizzle-orm";
import { pgSchema } from "drizzle-orm/pg-core";
import pg from "pg";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { clerkUserJson, createClerkUserDirectory, signedRequest, testSchema as schema, testSessionKeyId, testUsers as users, userEvent } from "../testing";
import { createTestDatabase, type TestDatabase } from "./test-database";
import { configureNeonClients, driverNames, openDriver, throughPgBouncer, type DriverCaseName, type DriverEnvironment, type OpenedDriver } from "#test/drivers";
import { startNeonHttpStandIn, startNeonWebSocketProxy } from "#test/neon-stand-ins";
import { pgBouncerUnavailable, startPgBouncer, type PgBouncer } from "#test/pgbouncer";

import { rowsOf } from "./database";
import { userSyncColumns, userSyncTables } from "./schema";
import { createUserSync, type UserSyncDatabase } from ".";

const paths = [
  "user.sync + cooldown claim",
  "Clerk budget",
  "webhook delivery",
  "telemetry flush + prune",
  "inbox prune",
  "reconciliation (lease + checkpoint)",
  "health check",
  "profile write",
] as const;
type PathName = (typeof paths)[number];
const twoInstances = "2 instances, 1 pg pool, named statements";
type Column = DriverCaseName | typeof twoInstances;

/** What each cell did: ok, failed, skipped (why), or refused at construction (why). */
const matrix = new Map<Column, Map<PathName, string>>();
function note(column: Column, path: PathName, result: string) {
  if (!matrix.has(column)) matrix.set(column, new Map());
  matrix.get(column)!.set(path, result);
}

const noPgBouncer = pgBouncerUnavailable();
const directory = createClerkUserDirectory();
let clerkServer: http.Server;
let clerkUrl: string;
let testDb: TestDatabase;
let pgBouncer: PgBouncer | null = null;
let environment: DriverEnvironment;

/** Clerk's Backend API for this suite: the directory, and `PATCH /v1/users/:id` applied to it. */
async function startClerk() {
  clerkServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const patched = req.method === "PATCH" ? /^\/v1\/users\/([^/]+)$/.exec(url.pathname) : null;
        if (patched) {
          const id = decodeURIComponent(patched[1]!);
          const user = directory.users.get(id);
          if (!user) return new Response(JSON.stringify({ errors: [{ code: "resource_not_found", message: "not found" }] }), { status: 404 });
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { first_name?: string; last_name?: string };
          directory.update(id, { firstName: body.first_name ?? user.firstName, lastName: body.last_name ?? user.lastName, updatedAtMs: user.updatedAtMs + 1_000 });
          return Response.json(clerkUserJson(directory.users.get(id)!));
        }
        return directory.handle(new Request(url, { headers: req.headers as Record<string, string> }));
      })().then(async (response) => {
        res.writeHead(response.status, { "Content-Type": "application/json" });
        res.end(Buffer.from(await response.arrayBuffer()));
      });
    });
  });
  // A client's idle keep-alive connection must not be closed just as it is reused (ECONNRESET).
  clerkServer.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => clerkServer.listen(0, "127.0.0.1", resolve));
  clerkUrl = `http://127.0.0.1:${(clerkServer.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  testDb = await createTestDatabase("driver_matrix");
  await startClerk();
  if (noPgBouncer) console.warn(noPgBouncer);
  else pgBouncer = await startPgBouncer({ upstreamUrl: testDb.url, poolMode: "transaction", poolSize: 4 });
  environment = {
    schema,
    directUrl: testDb.url,
    pooledUrl: pgBouncer?.url(new URL(testDb.url).pathname.slice(1)) ?? null,
    neonHttp: await startNeonHttpStandIn(testDb.url),
    neonWebSocket: await startNeonWebSocketProxy(),
  };
  await configureNeonClients(environment);
});

afterAll(async () => {
  printMatrix();
  await environment?.neonHttp.close();
  await environment?.neonWebSocket.close();
  await pgBouncer?.stop();
  clerkServer?.closeAllConnections();
  await new Promise((resolve) => clerkServer?.close(resolve));
  await testDb.close();
});

function printMatrix() {
  const columns = [...driverNames, twoInstances] as Column[];
  const cell = (column: Column, path: PathName) => matrix.get(column)?.get(path) ?? "—";
  const lines = [
    `| Path | ${columns.join(" | ")} |`,
    `|---|${columns.map(() => "---").join("|")}|`,
    ...paths.map((path) => `| ${path} | ${columns.map((column) => cell(column, path)).join(" | ")} |`),
  ];
  console.info(`\nDriver matrix (path × driver):\n${lines.join("\n")}\n`);
}

/** The suite's own statements carry this comment, so the audit of the plugin's statements skips them. */
const ours = sql.raw("/* driver-matrix */ ");

/**
 * The plugin's statements that postgres.js sent without parameters (so on the simple protocol)
 * outside a transaction: beside other queries on a shared connection, through a transaction
 * pooler, some replies never come (porsager/postgres#970). Inside `sql.begin` the connection is
 * reserved and statements go one at a time. Its own type lookups are not the plugin's.
 */
function parameterlessOutsideTransactions(statements: { connection: number; query: string; parameters: unknown[] }[]) {
  const inTransaction = new Set<number>();
  const found: string[] = [];
  for (const { connection, query, parameters } of statements) {
    const text = query.trim().toLowerCase();
    if (text.startsWith("begin")) inTransaction.add(connection);
    const own = text.startsWith("/* driver-matrix */") || text.includes("pg_catalog.pg_type");
    if (!own && parameters.length === 0 && !inTransaction.has(connection)) found.push(query.replace(/\s+/g, " ").slice(0, 120));
    if (text.startsWith("commit") || text.startsWith("rollback")) inTransaction.delete(connection);
  }
  return found;
}

/** A row count (or any single integer) through the driver under test. */
async function single(db: UserSyncDatabase, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = rowsOf<{ n: number | string }>(await db.execute(query));
  return Number(row?.n);
}

/** Empties every table of the database the driver is on (PGlite is a database of its own). */
async function truncate(db: UserSyncDatabase) {
  await db.execute(
    sql`${ours}truncate users, clerk_webhook_events, user_sync_write_stats, user_sync_clerk_budget, user_sync_clerk_fetches, user_sync_reconcile_runs, user_sync_reconcile_seen, user_sync_reconcile_lease, user_sync_clerk_session_keys`,
  );
}

const person = (n: number, updatedAtMs = 1_700_000_000_000) => ({
  id: `user_matrix_${n}`,
  email: `matrix${n}@example.com`,
  firstName: `First${n}`,
  lastName: `Last${n}`,
  updatedAtMs,
});

function plugin(db: UserSyncDatabase, overrides: Partial<Parameters<typeof createUserSync>[0]> = {}) {
  return createUserSync({
    db,
    users,
    clerk: { secretKey: "sk_live_matrix", apiUrl: clerkUrl },
    cooldownSeconds: 10,
    clerkBudget: { requestsPer10s: 1000 },
    telemetry: { flushIntervalMs: 60_000 },
    webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined, pruneIntervalMs: 0 },
    admin: { apiKey: "matrix_admin_key_0123456789abcdef0123456789" },
    // The instance whose key the directory's JWKS serve: each run proves it before it writes.
    reconcile: { instanceId: testSessionKeyId },
    log: () => undefined,
    ...overrides,
  });
}

const getUserCalls = () => directory.requests.filter((request) => request.endpoint === "get").length;

type UserSync = ReturnType<typeof createUserSync>;

/** The paths, each against one plugin instance (`make()`) on the driver under test. */
const checks: Record<PathName, (db: UserSyncDatabase, make: () => UserSync) => Promise<string | void>> = {
  async "user.sync + cooldown claim"(db, make) {
    const userSync = make();
    const people = [1, 2, 3, 4, 5].map((n) => person(n));
    for (const p of people) directory.add(p);
    // Five users at once: more statements in flight than the pooler has server connections.
    const first = await Promise.all(people.map((p) => userSync.service.syncUser(p.id, { sessionToken: null })));
    expect(first.map((r) => r.outcome)).toEqual(Array(5).fill("created"));
    expect(first[0]?.user).toMatchObject({ id: people[0]!.id, email: people[0]!.email });
    const calls = getUserCalls();
    // Within the cooldown: answered from the database, no Clerk call, the same row.
    const again = await userSync.service.syncUser(people[0]!.id, { sessionToken: null });
    expect(again).toMatchObject({ outcome: "unchanged", user: { id: people[0]!.id } });
    expect(getUserCalls()).toBe(calls);
    expect(await single(db, sql`${ours}select count(*)::int as n from user_sync_clerk_fetches`)).toBe(5);
  },

  async "Clerk budget"(db, make) {
    const userSync = make();
    expect(await userSync.budget.tryAcquire!("live")).toEqual({ granted: true });
    await userSync.budget.pause(30);
    const refused = await userSync.budget.tryAcquire!("live");
    expect(refused.granted).toBe(false);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000);
  },

  async "webhook delivery"(db, make) {
    const userSync = make();
    const ada = person(10);
    const applied = await userSync.webhook.handle(signedRequest(userEvent("user.created", ada), { svixId: "msg_matrix_1" }));
    expect([applied.status, await applied.json()]).toEqual([200, { outcome: "created" }]);
    const again = await userSync.webhook.handle(signedRequest(userEvent("user.created", ada), { svixId: "msg_matrix_1" }));
    expect([again.status, await again.json()]).toEqual([200, { outcome: "duplicate" }]);
    const malformed = await userSync.webhook.handle(signedRequest({ type: "user.updated", object: "event", data: { id: 42 }, timestamp: 1 }, { svixId: "msg_matrix_2" }));
    expect([malformed.status, await malformed.json()]).toEqual([200, { outcome: "dead_letter" }]);
    expect(await single(db, sql`${ours}select count(*)::int as n from clerk_webhook_events`)).toBe(2);
    expect(await single(db, sql`${ours}select count(*)::int as n from users where email = ${ada.email}`)).toBe(1);
  },

  async "telemetry flush + prune"(db, make) {
    const userSync = make();
    const seedExpiredBucket = (source: string) =>
      db.execute(sql`${ours}
        insert into user_sync_write_stats (bucket_start, source, outcome, clerk_fetched, error_code, count, duration_ms_total, duration_ms_max)
        values (now() - interval '20 days', ${source}, 'updated', false, '', 1, 1, 1)`);
    await seedExpiredBucket("webhook");
    for (let i = 0; i < 3; i++) userSync.telemetry!.record({ source: "client-sync", outcome: "created", clerkFetched: true, changedData: true, durationMs: 5 });
    // The first flush of an instance prunes after writing.
    await userSync.telemetry!.flush();
    expect(rowsOf(await db.execute(sql`${ours}select source, sum(count)::int as n from user_sync_write_stats group by source`))).toEqual([{ source: "client-sync", n: 3 }]);
    await seedExpiredBucket("reconcile");
    expect(await userSync.telemetry!.prune()).toBe(1);
    expect(await single(db, sql`${ours}select count(*)::int as n from user_sync_write_stats`)).toBe(1);
  },

  async "inbox prune"(db, make) {
    const userSync = make();
    await db.execute(sql`${ours}
      insert into clerk_webhook_events (svix_id, event_type, outcome, received_at, processed_at)
      select 'msg_old_' || i, 'user.updated', 'updated', now() - interval '40 days', now() - interval '40 days' from generate_series(1, 50) as i`);
    await db.execute(sql`${ours}insert into clerk_webhook_events (svix_id, event_type, outcome, received_at) values ('msg_dead', 'user.updated', 'dead_letter', now() - interval '40 days')`);
    const result = await userSync.webhook.pruneInbox({ batchSize: 20 });
    expect(result).toMatchObject({ deletedRows: 50, otherPrunerActive: false, moreRemaining: false });
    expect(await single(db, sql`${ours}select count(*)::int as n from clerk_webhook_events`)).toBe(1);
  },

  async "reconciliation (lease + checkpoint)"(db, make) {
    const userSync = make();
    const [stale, missing, gone] = [person(20, 1_700_000_000_000), person(21), person(22)];
    directory.add({ ...stale, firstName: "Renamed", updatedAtMs: stale.updatedAtMs + 5_000 });
    directory.add(missing);
    await userSync.webhook.handle(signedRequest(userEvent("user.created", stale), { svixId: "msg_matrix_stale" }));
    await userSync.webhook.handle(signedRequest(userEvent("user.created", gone), { svixId: "msg_matrix_gone" }));
    // Every driver, neon-http and a single connection included: the lease is a row, no transaction is held.
    const report = await userSync.reconcile({ dryRun: false, mode: "full" });
    expect(report.counts).toEqual({ missing: 1, stale: 1, deleted: 1, unchanged: 0 });
    // The checkpoint: the run's row, finished, walked to the end; the lease given back.
    const [run] = rowsOf<{ status: string; phase: string; walked: number }>(await db.execute(sql`${ours}select status, phase, walked from user_sync_reconcile_runs`));
    expect(run).toEqual({ status: "succeeded", phase: "done", walked: 2 });
    expect(await single(db, sql`${ours}select count(*)::int as n from user_sync_reconcile_lease`)).toBe(0);
    const second = await userSync.reconcile({ dryRun: false, mode: "full" });
    expect(second.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 2 });
  },

  async "health check"(db, make) {
    const userSync = make();
    await userSync.webhook.handle(signedRequest(userEvent("user.created", person(30)), { svixId: "msg_matrix_health" }));
    directory.add(person(30));
    // Several checks in a row and at once: through a transaction pooler, postgres.js used to hang
    // on the parameterless ones (porsager/postgres#970).
    for (let round = 0; round < 3; round++) {
      const reports = await Promise.all([userSync.health.check(), userSync.health.check()]);
      for (const report of reports) expect(report).toMatchObject({ liveUsers: 1, clerkUsers: 1, discrepancy: 0, deadLetters: 0 });
    }
    const report = await userSync.health.check();
    expect(report.outcomesLastDay).toEqual({ webhook: { created: 1 } });
    expect(report.lastWebhookAt).not.toBeNull();
  },

  async "profile write"(db, make) {
    const userSync = make();
    const grace = person(40);
    directory.add(grace);
    await userSync.service.syncUser(grace.id, { sessionToken: null });
    const result = await userSync.profile.updateProfile(grace.id, { firstName: "Grace", lastName: "Hopper" });
    expect(result).toMatchObject({ mirror: "written", outcome: "updated", profile: { firstName: "Grace", lastName: "Hopper" } });
    const [row] = rowsOf<{ first_name: string }>(await db.execute(sql`${ours}select first_name from users where id = ${grace.id}`));
    expect(row?.first_name).toBe("Grace");
  },
};

for (const name of driverNames) {
  const skip = throughPgBouncer(name) ? noPgBouncer : null;
  describe.skipIf(skip !== null)(`driver: ${name}`, () => {
    let driver: OpenedDriver;
    beforeAll(async () => {
      driver = await openDriver(name, environment);
    });
    afterAll(() => driver?.close());

    for (const path of paths) {
      it(path, async () => {
        try {
          directory.reset();
          await truncate(driver.db);
          const mark = await checks[path](driver.db, () => plugin(driver.db));
          note(name, path, mark ?? "ok");
        } catch (error) {
          note(name, path, "FAIL");
          throw error;
        }
      });
    }

    if (name === "postgres-js" || name === "postgres-js → PgBouncer") {
      it("sends no statement without parameters outside a transaction (postgres.js would pipeline it on the simple protocol)", () => {
        expect(parameterlessOutsideTransactions(driver.statements!)).toEqual([]);
      });
    }
  });
}

/**
 * Two plugin instances on one node-postgres pool of two connections, both with named prepared
 * statements: the host's (the tables above) runs each path while another (a tenant's users table
 * and plugin tables in schema `matrix_tenant`, its own Clerk) syncs its users the whole time.
 * Their statements differ in text (tables, cooldown); each gets a name of its own.
 */
describe(`driver: ${twoInstances}`, () => {
  const tenantSchema = pgSchema("matrix_tenant");
  const tenantUsers = tenantSchema.table("users", { ...userSyncColumns() });
  const tenantTables = userSyncTables(tenantSchema.table);
  const tenantDirectory = createClerkUserDirectory();
  let tenantClerk: { url: string; close: () => Promise<void> };
  let pool: pg.Pool;
  let db: UserSyncDatabase;
  beforeAll(async () => {
    await testDb.client.unsafe(`
      create schema if not exists matrix_tenant;
      create table matrix_tenant.users (like public.users including all);
      ${Object.values(tenantTables)
        .map((table) => `create table matrix_tenant.${getTableName(table)} (like public.${getTableName(table)} including all);`)
        .join("\n")}`);
    tenantClerk = await tenantDirectory.listen();
    pool = new pg.Pool({ connectionString: testDb.url, max: 2 });
    pool.on("error", () => undefined);
    db = drizzleNodePg({ client: pool, schema });
  });
  afterAll(async () => {
    await pool?.end();
    await tenantClerk?.close();
  });

  for (const path of paths) {
    it(path, async () => {
      try {
        directory.reset();
        await truncate(db);
        const tenant = createUserSync({
          db,
          users: tenantUsers,
          tables: tenantTables,
          clerk: { secretKey: "sk_live_tenant", apiUrl: tenantClerk.url },
          cooldownSeconds: 20,
          preparedStatements: true,
          clerkBudget: { requestsPer10s: 1000 },
          telemetry: false,
          log: () => undefined,
        });
        let stop = false;
        let tenantSyncs = 0;
        const background = (async () => {
          for (let i = 0; !stop || tenantSyncs === 0; i++) {
            const id = `user_tenant_${i % 20}`;
            if (!tenantDirectory.users.has(id)) tenantDirectory.add({ id, email: `${id}@tenant.example`, updatedAtMs: 1_700_000_000_000 });
            await tenant.service.syncUser(id, { sessionToken: null });
            tenantSyncs++;
          }
        })();
        try {
          const mark = await checks[path](db, () => plugin(db, { preparedStatements: true }));
          note(twoInstances, path, mark ?? "ok");
        } finally {
          stop = true;
          // The other instance's syncs all succeeded beside this path.
          await background;
        }
        expect(tenantSyncs).toBeGreaterThan(0);
      } catch (error) {
        note(twoInstances, path, "FAIL");
        throw error;
      }
    });
  }

  it("each instance's statements were prepared under names of their own on the shared connections", async () => {
    // Both connections at once: each lists only its own prepared statements.
    const connections = await Promise.all([pool.connect(), pool.connect()]);
    try {
      const names = new Set<string>();
      for (const connection of connections) {
        const prepared = await connection.query<{ name: string }>("select name from pg_prepared_statements where name like $1", ["user_sync_claim_%"]);
        for (const row of prepared.rows) names.add(row.name);
      }
      // The host's claim (cooldown 10 s) and the tenant's (20 s, another table): two names.
      expect(names.size).toBe(2);
    } finally {
      for (const connection of connections) connection.release();
    }
  });
});

describe("reconciliation needs no transaction: the drivers where a held lock could not run reconcile", () => {
  it("neon-http (no interactive transaction) and a pool of one connection reconcile, and nothing is logged at construction", async () => {
    const neonHttp = await openDriver("neon-http", environment);
    const client = postgres(testDb.url, { max: 1, onnotice: () => undefined });
    try {
      for (const db of [neonHttp.db, drizzlePostgresJs({ client, schema })]) {
        directory.reset();
        await truncate(db);
        directory.add(person(40));
        const entries: unknown[] = [];
        const userSync = plugin(db, { log: (entry) => entries.push(entry) });
        expect((await userSync.reconcile({ dryRun: false, mode: "full" })).counts).toEqual({ missing: 1, stale: 0, deleted: 0, unchanged: 0 });
        expect(entries).toEqual([]);
      }
    } finally {
      await client.end({ timeout: 5 });
      await neonHttp.close();
    }
  });
});
