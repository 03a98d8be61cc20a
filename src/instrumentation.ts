/**
 * Runs once when a Next server starts, before it serves a request: opens the database (and,
 * for the embedded PGlite, runs the migrations), so the first sign-in's sync does not wait for
 * it; and makes SIGTERM/SIGINT finish the server's shutdown work (src/server/shutdown.ts: the
 * user sync's buffered telemetry) before Next's own graceful close, which lets in-flight requests
 * finish, awaits their `after()` work and exits.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getDb } = await import("./server/db");
  const { runShutdownTasks } = await import("./server/shutdown");
  for (const signal of ["SIGTERM", "SIGINT"] as const) finishFirstOn(signal, () => runShutdownTasks(5_000));
  const startedAtMs = Date.now();
  try {
    await getDb();
    console.log(`[user-sync] database ready in ${Date.now() - startedAtMs} ms`);
  } catch (error) {
    // The server still starts: getDb() does not cache a failed open, so the first request tries again.
    console.error("[user-sync] the database did not open at start:", error instanceof Error ? error.name : "unknown error");
  }
}

/**
 * On `signal`, runs `work` first, then whatever handled the signal before (`next start`
 * registers its graceful close before it loads this file); with no handler (signals handled
 * elsewhere, NEXT_MANUAL_SIG_HANDLE), the signal's default action (the process ends).
 */
function finishFirstOn(signal: NodeJS.Signals, work: () => Promise<void>) {
  const previous = process.listeners(signal);
  process.removeAllListeners(signal);
  process.once(signal, () => {
    void work().finally(() => {
      if (previous.length === 0) {
        process.kill(process.pid, signal);
        return;
      }
      for (const listener of previous) listener(signal);
    });
  });
}
