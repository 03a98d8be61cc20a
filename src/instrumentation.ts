/**
 * Runs once when a Next server starts, before it serves a request: opens the database (and,
 * for the embedded PGlite, runs the migrations), so the first sign-in's sync does not wait for
 * it; and makes SIGTERM/SIGINT finish the server's shutdown work first (src/server/shutdown.ts:
 * the user sync's buffered telemetry), then Next's own graceful close, which lets in-flight
 * requests finish, awaits their `after()` work and exits.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getDb } = await import("./server/db");
  const { finishShutdownWorkFirst } = await import("./server/shutdown");
  finishShutdownWorkFirst(["SIGTERM", "SIGINT"]);
  const startedAtMs = Date.now();
  try {
    await getDb();
    console.log(`[user-sync] database ready in ${Date.now() - startedAtMs} ms`);
  } catch (error) {
    // The server still starts: getDb() does not cache a failed open, so the first request tries again.
    // Names only: a driver's message can quote row values. The embedded database's own messages say what to do.
    const { embeddedDatabaseProblem } = await import("./server/db/embedded-problem");
    console.error(`[user-sync] the database did not open at start: ${embeddedDatabaseProblem(error) ?? (error instanceof Error ? error.name : "unknown error")}`);
  }
}
