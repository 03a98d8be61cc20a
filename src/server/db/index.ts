import "server-only";

import fs from "node:fs";
import path from "node:path";

import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";

import { env } from "~/env";

import { acquireEmbeddedLock } from "./embedded-lock";
import { withPoolerTimeouts } from "./pooler-timeouts";

import * as schema from "./schema";

function connect() {
  if (env.DATABASE_URL) {
    const transactionPooler = env.DATABASE_POOL_MODE === "transaction";
    const timeoutMs = env.DATABASE_STATEMENT_TIMEOUT_MS;
    const client = postgres(env.DATABASE_URL, {
      max: 10,
      onnotice: () => undefined,
      // A database that does not answer fails the request (503) instead of holding it, a pool
      // slot and user.sync's single-flight entry open: connecting, and each statement, are bounded.
      connect_timeout: env.DATABASE_CONNECT_TIMEOUT_SECONDS,
      // A transaction pooler hands each transaction to any server connection: a statement
      // prepared on one is unknown on the next.
      prepare: !transactionPooler,
      // Connected to PostgreSQL itself (or a session pooler), the server applies both timeouts
      // to every statement of the session. A transaction pooler refuses them as startup
      // parameters (PgBouncer: 08P01 unsupported startup parameter) and would not keep a
      // session's SET either: see withPoolerTimeouts.
      connection: transactionPooler
        ? {}
        : {
            statement_timeout: timeoutMs,
            // A transaction abandoned mid-way must not keep its row locks.
            idle_in_transaction_session_timeout: timeoutMs,
          },
    });
    return Promise.resolve(drizzlePostgres({ client: transactionPooler && timeoutMs > 0 ? withPoolerTimeouts(client, timeoutMs) : client, schema }));
  }
  return openEmbedded(env.PGLITE_DATA_DIR);
}

/**
 * The embedded default: PGlite in a local folder, migrated from `drizzle/` on first use. One
 * process per folder (./embedded-lock.ts): while another process holds it, this throws
 * `EmbeddedDatabaseInUseError` instead of opening it (a second process corrupts it).
 */
async function openEmbedded(dataDir: string) {
  // PGlite creates its own folder but not the folders above it.
  fs.mkdirSync(path.dirname(path.resolve(dataDir)), { recursive: true });
  const script = process.env.npm_lifecycle_event;
  acquireEmbeddedLock(dataDir, { command: script ? `npm run ${script}` : "the app", sharedToken: env.PGLITE_LOCK_TOKEN });
  const client = new PGlite(path.resolve(dataDir));
  const db = drizzlePglite({ client, schema });
  await migratePglite(db, { migrationsFolder: path.join(process.cwd(), "drizzle") });
  return db;
}

export type Database = Awaited<ReturnType<typeof connect>>;

// One client per process: Next evaluates modules in several bundles and re-evaluates them on
// HMR, and PGlite must never open its data folder twice.
const globalForDb = globalThis as unknown as { userSyncDb?: Promise<Database> };

export function getDb(): Promise<Database> {
  if (!globalForDb.userSyncDb) {
    const connecting = connect();
    globalForDb.userSyncDb = connecting;
    // A failed open is not cached: the next request tries again.
    connecting.catch(() => {
      if (globalForDb.userSyncDb === connecting) globalForDb.userSyncDb = undefined;
    });
  }
  return globalForDb.userSyncDb;
}
