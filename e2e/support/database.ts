import path from "node:path";

import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

/**
 * Drops and re-creates the database `databaseUrl` names (FORCE: a server under test may still
 * hold connections) and migrates it from `drizzle/` with drizzle's postgres-js migrator.
 * Used by the e2e global setup and the benchmarks.
 */
export async function recreateDatabase(databaseUrl: string, label: string) {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^\w+$/.test(name)) throw new Error(`${label}: unexpected database name "${name}"`);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = "/postgres";
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    throw new Error(`${label}: PostgreSQL at ${adminUrl.host} is needed: ${String(error)}`);
  } finally {
    await admin.end();
  }
  const client = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    await migrate(drizzle({ client }), { migrationsFolder: path.resolve("drizzle") });
  } finally {
    await client.end();
  }
}
