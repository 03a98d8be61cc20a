import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

/** Drops (forcing out the connections of an app under test) and creates the database of `databaseUrl`, empty. */
export async function createEmptyDatabase(databaseUrl: string) {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^\w+$/.test(name)) throw new Error(`${databaseUrl}: unexpected database name "${name}"`);
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = "/postgres";
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    throw new Error(`e2e needs PostgreSQL at ${adminUrl.host} (E2E_DATABASE_URL): ${String(error)}`);
  } finally {
    await admin.end();
  }
}

/** Drops and creates the database of `databaseUrl`, then migrates it from `migrationsFolder` with drizzle's migrator. */
export async function recreateDatabase(databaseUrl: string, migrationsFolder: string) {
  await createEmptyDatabase(databaseUrl);
  const client = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    await migrate(drizzle({ client }), { migrationsFolder });
  } finally {
    await client.end();
  }
}
