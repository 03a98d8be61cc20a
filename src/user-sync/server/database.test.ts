/**
 * Transient or permanent, with the errors the drivers really raise (through drizzle, which wraps
 * them in `DrizzleQueryError`): node-postgres and Neon raise some connection failures without a
 * SQLSTATE, and node-postgres refuses a reused statement name without one too. A failure without
 * a code used to be "transient": a sync that could never succeed answered 503 on every retry.
 */
import http from "node:http";
import net from "node:net";

import { neon, neonConfig } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { drizzle as drizzleNeonHttp } from "drizzle-orm/neon-http";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { createTestDatabase, type TestDatabase } from "./test-database";

import { classifyDatabaseError, databaseErrorCode, fromDatabaseFailure, isDatabaseError } from "./database";

let testDb: TestDatabase;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase("database_errors");
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});
afterAll(() => testDb.close());

/** A local TCP server that does `onConnection` to every client, on a free port. */
async function tcpServer(onConnection: (socket: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

function nodePg(connectionString: string, config: pg.PoolConfig = {}) {
  const pool = new pg.Pool({ connectionString, max: 1, ...config });
  // An idle client's socket error must not end the test process.
  pool.on("error", () => undefined);
  cleanups.push(() => pool.end());
  return drizzleNodePg({ client: pool });
}

function failure(work: Promise<unknown>) {
  return work.then(
    () => {
      throw new Error("expected the statement to fail");
    },
    (error: unknown) => error,
  );
}

function verdict(error: unknown) {
  return { code: databaseErrorCode(error), kind: classifyDatabaseError(error), databaseError: isDatabaseError(error), syncError: fromDatabaseFailure(error).code };
}

describe("database failures without a SQLSTATE", () => {
  it("node-postgres: a statement name used for another statement is permanent (DATABASE_REJECTED, not 503 forever)", async () => {
    const db = nodePg(testDb.url);
    await db.execute(sql`select 1`);
    const client = await db.$client.connect();
    try {
      await client.query({ name: "user_sync_claim", text: "select 1 as one" });
      const error = await failure(client.query({ name: "user_sync_claim", text: "select 2 as two" }));
      expect(error).toBeInstanceOf(Error);
      expect((error as { code?: unknown }).code).toBeUndefined();
      expect(verdict(error)).toEqual({ code: null, kind: "permanent", databaseError: false, syncError: "DATABASE_REJECTED" });
    } finally {
      client.release();
    }
  });

  it("node-postgres: the server closing the connection is transient (CONNECTION_TERMINATED)", async () => {
    const port = await tcpServer((socket) => socket.destroy());
    const error = await failure(nodePg(`postgres://postgres@127.0.0.1:${port}/none`).execute(sql`select ${1}::int`));
    expect(verdict(error)).toEqual({ code: "CONNECTION_TERMINATED", kind: "transient", databaseError: true, syncError: "DATABASE_UNAVAILABLE" });
  });

  it("node-postgres: a server that never answers is transient (connection timeout)", async () => {
    const port = await tcpServer(() => undefined);
    const db = nodePg(`postgres://postgres@127.0.0.1:${port}/none`, { connectionTimeoutMillis: 200 });
    const error = await failure(db.execute(sql`select ${1}::int`));
    expect(verdict(error)).toMatchObject({ kind: "transient", databaseError: true, syncError: "DATABASE_UNAVAILABLE" });
    expect(["CONNECT_TIMEOUT", "CONNECTION_TERMINATED"]).toContain(databaseErrorCode(error));
  });

  describe("neon-http", () => {
    const endpoint = neonConfig.fetchEndpoint;
    afterEach(() => {
      neonConfig.fetchEndpoint = endpoint;
    });
    const neonHttp = () => drizzleNeonHttp({ client: neon("postgres://postgres@neon.test/none") });

    it("Neon's endpoint answering 502 (no SQLSTATE) is transient", async () => {
      const server = http.createServer((_request, response) => {
        response.writeHead(502, { "Content-Type": "text/plain" });
        response.end("Bad Gateway");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      neonConfig.fetchEndpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/sql`;
      const error = await failure(neonHttp().execute(sql`select ${1}::int`));
      expect(verdict(error)).toEqual({ code: "NEON_HTTP_UNAVAILABLE", kind: "transient", databaseError: true, syncError: "DATABASE_UNAVAILABLE" });
    });

    it("Neon's endpoint unreachable is transient (the socket's code, behind sourceError)", async () => {
      const closed = await tcpServer((socket) => socket.destroy());
      neonConfig.fetchEndpoint = `http://127.0.0.1:${closed}/sql`;
      const error = await failure(neonHttp().execute(sql`select ${1}::int`));
      expect(verdict(error)).toMatchObject({ kind: "transient", databaseError: true, syncError: "DATABASE_UNAVAILABLE" });
    });
  });

  it("an error that is no database's (a bug) is permanent, not 'unavailable'", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    expect(verdict(bug)).toEqual({ code: null, kind: "permanent", databaseError: false, syncError: "DATABASE_REJECTED" });
  });
});

describe("database failures with a SQLSTATE keep their meaning on every driver", () => {
  it("node-postgres: a constraint violation is permanent, a lock timeout transient", async () => {
    const db = nodePg(testDb.url);
    await db.execute(sql`insert into users (id, clerk_updated_at) values (${"user_dup"}, 1)`);
    const duplicate = await failure(db.execute(sql`insert into users (id, clerk_updated_at) values (${"user_dup"}, 1)`));
    expect(verdict(duplicate)).toEqual({ code: "23505", kind: "permanent", databaseError: true, syncError: "DATABASE_REJECTED" });
    // One connection in the pool: the session setting applies to the next statement.
    await db.execute(sql`select set_config('statement_timeout', ${"100"}, false)`);
    const cancelled = await failure(db.execute(sql`select pg_sleep(${2})`));
    expect(verdict(cancelled)).toMatchObject({ code: "57014", kind: "transient" });
  });
});
