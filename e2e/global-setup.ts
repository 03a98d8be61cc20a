import path from "node:path";

import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

import { databaseUrl } from "./support/settings";

/** A fresh e2e database, migrated from `drizzle/` with drizzle's postgres-js migrator. */
export default async function globalSetup() {
  const target = new URL(databaseUrl);
  const name = target.pathname.slice(1);
  if (!/^\w+$/.test(name)) throw new Error(`E2E_DATABASE_URL: unexpected database name "${name}"`);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = "/postgres";
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => undefined });
  try {
    // FORCE: the app under test may already hold connections.
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    throw new Error(`e2e needs PostgreSQL at ${adminUrl.host} (E2E_DATABASE_URL): ${String(error)}`);
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
