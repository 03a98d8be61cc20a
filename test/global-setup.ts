import path from "node:path";

import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { TestProject } from "vitest/node";

import { ensurePostgresServer } from "./postgres-server";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
  }
}

// Per run: several checkouts (git worktrees) may run their suites on one server at once.
export const templateDatabase = `user_sync_test_template_${process.pid}`;

/** Starts (or finds) PostgreSQL and migrates a template database from `drizzle/`. */
export default async function setup(project: TestProject) {
  const server = await ensurePostgresServer();
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`);
    await admin.unsafe(`create database ${templateDatabase}`);
  } finally {
    await admin.end();
  }
  const templateUrl = withDatabase(server.adminUrl, templateDatabase);
  const client = postgres(templateUrl, { max: 1, onnotice: () => undefined });
  try {
    await migrate(drizzle({ client }), { migrationsFolder: path.resolve("drizzle") });
  } finally {
    await client.end();
  }
  project.provide("adminDatabaseUrl", server.adminUrl);
  project.provide("templateDatabase", templateDatabase);
  return async () => {
    const cleanup = postgres(server.adminUrl, { max: 1, onnotice: () => undefined });
    try {
      await cleanup.unsafe(`drop database if exists ${templateDatabase} with (force)`);
    } finally {
      await cleanup.end();
    }
    await server.stop();
  };
}

export function withDatabase(url: string, database: string) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
