import { env } from "~/env";

import { EmbeddedDatabaseInUseError, embeddedDatabaseDamagedMessage } from "./embedded-lock";

/**
 * What to tell the user when the embedded PGlite folder did not open, or null when the app runs
 * on PostgreSQL (`DATABASE_URL`). Safe to log: folder names and pids only.
 */
export function embeddedDatabaseProblem(error: unknown): string | null {
  if (env.DATABASE_URL) return null;
  if (error instanceof EmbeddedDatabaseInUseError) return error.message;
  return embeddedDatabaseDamagedMessage(env.PGLITE_DATA_DIR);
}
