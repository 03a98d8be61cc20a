import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { PGlite } from "@electric-sql/pglite";
import { neon, neonConfig, Pool as NeonPool } from "@neondatabase/serverless";
import { drizzle as drizzleNeonHttp } from "drizzle-orm/neon-http";
import { drizzle as drizzleNeonServerless } from "drizzle-orm/neon-serverless";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import { drizzle as drizzleVercel } from "drizzle-orm/vercel-postgres";
import pg from "pg";
import postgres from "postgres";
import ws from "ws";

import type { UserSyncDatabase } from "clerk-user-sync/server";

import type { NeonHttpStandIn, NeonWebSocketProxy } from "./neon-stand-ins";

/**
 * The drizzle PostgreSQL drivers hosts use, each opened the way such a host opens it, on one test
 * database: straight to PostgreSQL or through a transaction pooler (PgBouncer), Neon's two
 * endpoints through their local stand-ins (test/neon-stand-ins.ts), PGlite in memory.
 */
export type OpenedDriver = {
  db: UserSyncDatabase;
  /** postgres.js only: every statement sent, with its parameters (its `debug` hook). */
  statements?: { connection: number; query: string; parameters: unknown[] }[];
  close(): Promise<void>;
};

export type DriverEnvironment = {
  /** The drizzle schema each driver is opened with (the plugin's tests pass the kit's `testSchema`). */
  schema: Record<string, unknown>;
  /** The test database, straight on PostgreSQL. */
  directUrl: string;
  /** The same database through PgBouncer in transaction mode (null: PgBouncer is not installed). */
  pooledUrl: string | null;
  neonHttp: NeonHttpStandIn;
  neonWebSocket: NeonWebSocketProxy;
};

/** Points both copies of Neon's client (ours and the one @vercel/postgres bundles) at the stand-ins. */
export async function configureNeonClients(environment: DriverEnvironment) {
  const settings = (config: typeof neonConfig) => {
    config.fetchEndpoint = environment.neonHttp.endpoint;
    config.webSocketConstructor = ws;
    config.wsProxy = environment.neonWebSocket.wsProxy;
    config.useSecureWebSocket = false;
    config.pipelineConnect = false;
    config.forceDisablePgSSL = true;
  };
  settings(neonConfig);
  // @vercel/postgres depends on @neondatabase/serverless 0.9 and gets its own copy: the same
  // module instance its ESM entry imports (a nested copy if npm put one there).
  const vercelEntry = createRequire(import.meta.url).resolve("@vercel/postgres");
  const nested = path.join(path.dirname(vercelEntry), "..", "node_modules", "@neondatabase", "serverless", "index.mjs");
  const vercelsNeon = (await import(pathToFileURL(nested).href).catch(() => ({ neonConfig }))) as { neonConfig: typeof neonConfig };
  settings(vercelsNeon.neonConfig);
}

/** The host's URL with another host name (Neon and Vercel's clients decide things by it). */
function withHost(url: string, hostname: string) {
  const parsed = new URL(url);
  parsed.hostname = hostname;
  return parsed.toString();
}

export const driverNames = [
  "postgres-js",
  "postgres-js → PgBouncer",
  "node-postgres",
  "node-postgres → PgBouncer",
  "neon-http",
  "neon-serverless → PgBouncer",
  "vercel-postgres → PgBouncer",
  "PGlite",
] as const;

export type DriverCaseName = (typeof driverNames)[number];

/** Whether the case needs PgBouncer. */
export const throughPgBouncer = (name: DriverCaseName) => name.endsWith("PgBouncer");

export async function openDriver(name: DriverCaseName, environment: DriverEnvironment): Promise<OpenedDriver> {
  const { schema } = environment;
  const pooled = () => {
    if (!environment.pooledUrl) throw new Error("PgBouncer is not running");
    return environment.pooledUrl;
  };
  switch (name) {
    case "postgres-js":
    case "postgres-js → PgBouncer": {
      const statements: OpenedDriver["statements"] = [];
      const client = postgres(name === "postgres-js" ? environment.directUrl : pooled(), {
        max: 4,
        // What a host behind a transaction pooler sets (and this app's DATABASE_POOL_MODE=transaction).
        prepare: name === "postgres-js",
        onnotice: () => undefined,
        debug: (connection, query, parameters) => statements.push({ connection, query, parameters }),
      });
      return { db: drizzlePostgresJs({ client, schema }), statements, close: () => client.end({ timeout: 5 }) };
    }
    case "node-postgres":
    case "node-postgres → PgBouncer": {
      const pool = new pg.Pool({ connectionString: name === "node-postgres" ? environment.directUrl : pooled(), max: 4 });
      pool.on("error", () => undefined);
      return { db: drizzleNodePg({ client: pool, schema }), close: () => pool.end() };
    }
    case "neon-http":
      return { db: drizzleNeonHttp({ client: neon(withHost(environment.directUrl, "ep-test.neon.test")), schema }), close: async () => undefined };
    case "neon-serverless → PgBouncer": {
      const pool = new NeonPool({ connectionString: withHost(pooled(), "ep-test-pooler.neon.test"), max: 4 });
      pool.on("error", () => undefined);
      return { db: drizzleNeonServerless({ client: pool, schema }), close: () => pool.end() };
    }
    case "vercel-postgres → PgBouncer": {
      const { createPool } = await import("@vercel/postgres");
      // @vercel/postgres wants Neon's pooled host name ("-pooler.") for a pool.
      const pool = createPool({ connectionString: withHost(pooled(), "ep-test-pooler.neon.test"), max: 4 });
      pool.on("error", () => undefined);
      return { db: drizzleVercel({ client: pool, schema }), close: () => pool.end() };
    }
    case "PGlite": {
      const client = new PGlite();
      const db = drizzlePglite({ client, schema });
      await migratePglite(db, { migrationsFolder: path.resolve("drizzle") });
      return { db, close: () => client.close() };
    }
  }
}
