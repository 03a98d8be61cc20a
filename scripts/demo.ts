/**
 * `npm run demo [-- --reset]`: the whole app on one machine with no Clerk account and no database
 * server. Starts the Clerk emulator (seeded demo users) and `next dev` with the emulator's env and
 * no DATABASE_URL, so the app uses embedded PGlite in `.data/pglite` (PGLITE_DATA_DIR).
 *
 * - Holds the PGlite folder's lock (src/server/db/embedded-lock.ts) for as long as it runs, and
 *   writes its app URL and admin key there: `npm run users:reconcile` then works through the
 *   running app instead of opening the folder from a second process (which corrupts it).
 * - Opens the folder itself before starting the app: a damaged folder stops the demo with a
 *   message that says how to recover, and "Open" is printed only once the app has answered its
 *   admin health check (which reads the database).
 * - `--reset` starts afresh: deletes the PGlite folder and the emulator's state (users, keys),
 *   keeping only the clerk-js bundles it downloaded.
 * - Compiles every page and route a visitor reaches before it prints "Open".
 *
 * Settings (env): PORT (3000), CLERK_EMULATOR_PORT (4001), CLERK_EMULATOR_STATE_DIR
 * (.clerk-emulator), PGLITE_DATA_DIR (.data/pglite), NEXT_DIST_DIR (.next), ADMIN_API_KEY
 * (default: a new random key per run).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { PGlite } from "@electric-sql/pglite";
import { clerkEmulatorAppEnv, ensureClerkBundles, fidelityFromEnv, rateLimitsFromEnv, readEmulatorConfig, startClerkEmulator } from "clerk-user-sync-emulator";

import { acquireEmbeddedLock, EmbeddedDatabaseInUseError, embeddedDatabaseDamagedMessage } from "../src/server/db/embedded-lock";

const appPort = Number(process.env.PORT ?? 3000);
const appUrl = `http://localhost:${appPort}`;
const config = { ...readEmulatorConfig(), appUrl };
const dataDir = process.env.PGLITE_DATA_DIR ?? ".data/pglite";
const log = (line: string) => console.log(`[demo] ${line}`);
const fail = (line: string) => console.error(`[demo] ${line}`);

function parseCommandLine(): { reset: boolean } {
  try {
    const { values } = parseArgs({ args: process.argv.slice(2), options: { reset: { type: "boolean" } }, strict: true, allowPositionals: false });
    return { reset: !!values.reset };
  } catch (error) {
    fail(`${error instanceof Error ? error.message : "invalid arguments"}\nUsage: npm run demo [-- --reset]`);
    process.exit(2);
  }
}

/** The demo's data: the PGlite folder and the emulator's state, but not the clerk-js bundles it downloaded. */
function reset() {
  fs.rmSync(dataDir, { recursive: true, force: true });
  const kept: string[] = [];
  if (fs.existsSync(config.stateDir)) {
    for (const entry of fs.readdirSync(config.stateDir)) {
      if (/^clerk-(js|ui)-\d/.test(entry)) kept.push(entry);
      else fs.rmSync(path.join(config.stateDir, entry), { recursive: true, force: true });
    }
  }
  log(`reset: deleted ${dataDir} and the emulator's state in ${config.stateDir}${kept.length ? ` (kept the downloaded ${kept.join(", ")})` : ""}`);
}

/** Opens and closes the PGlite folder (if there is one yet): false when it does not open. */
async function embeddedDatabaseOpens(): Promise<boolean> {
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) return true;
  let client: PGlite | undefined;
  try {
    client = new PGlite(path.resolve(dataDir));
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

async function waitForApp(url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(60_000) })).ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

/**
 * `next dev` compiles a route on its first request, so every page and route a visitor reaches is
 * requested here, signed out: pages redirect or render the signed-out view and procedures answer
 * 401, all after compiling (the console's tRPC procedures share /api/trpc). Concurrently: the
 * compiler works on them together.
 */
async function warmUp() {
  const requests: [string, RequestInit?][] = [
    ["/dashboard"],
    ["/dashboard/settings"],
    ["/profile"],
    ["/admin/sync"],
    // Every page asks for it; without an icon it is the not-found page, compiled once.
    ["/favicon.ico"],
    ["/api/trpc/user.me"],
    ["/api/trpc/user.updateAvatar", { method: "POST" }],
    // Unsigned: 400 after compiling. The emulator delivers its webhooks here.
    ["/api/webhooks/clerk", { method: "POST", body: "{}" }],
    // No key: 401 after compiling.
    ["/api/admin/user-sync/reconcile", { method: "POST" }],
  ];
  await Promise.all(
    requests.map(async ([route, init]) => {
      try {
        await fetch(`${appUrl}${route}`, { ...init, redirect: "manual", signal: AbortSignal.timeout(180_000) });
      } catch {
        // Only a warm-up: the route compiles on its first real request instead.
      }
    }),
  );
}

/** The admin health check reads the database: 200 once the app has it open. */
async function databaseAnswers(adminApiKey: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const response = await fetch(`${appUrl}/api/admin/user-sync/health`, {
      headers: { authorization: `Bearer ${adminApiKey}` },
      signal: AbortSignal.timeout(180_000),
    });
    if (response.ok) return { ok: true };
    const body = (await response.json().catch(() => ({}))) as { error?: string; problems?: string[] };
    return { ok: false, reason: `${response.status} ${body.error ?? body.problems?.[0] ?? ""}`.trim() };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : "no answer" };
  }
}

async function main() {
  const options = parseCommandLine();
  const adminApiKey = process.env.ADMIN_API_KEY ?? randomBytes(32).toString("hex");
  let lock;
  try {
    lock = acquireEmbeddedLock(dataDir, { command: "npm run demo", appUrl, adminApiKey });
  } catch (error) {
    if (!(error instanceof EmbeddedDatabaseInUseError)) throw error;
    fail(`${error.message}; then run npm run demo again.`);
    process.exit(1);
  }
  if (options.reset) reset();

  const bundles = ensureClerkBundles(config.stateDir, log);
  // Opened here, before the app, so a damaged folder stops the demo with what to do.
  const [opens, { emulator, close }] = await Promise.all([
    embeddedDatabaseOpens(),
    startClerkEmulator({
      ...config,
      ...bundles,
      rateLimits: rateLimitsFromEnv(process.env.CLERK_EMULATOR_RATE_LIMITS),
      fidelity: fidelityFromEnv(),
      usersFile: path.resolve(config.stateDir, "demo-users.json"),
      log: (line) => {
        if (!line.startsWith("fapi ")) console.log(`[clerk-emulator] ${line}`);
      },
    }),
  ]);
  if (!opens) {
    fail(`${embeddedDatabaseDamagedMessage(dataDir)}.`);
    await close();
    process.exit(1);
  }
  log(`Clerk emulator on ${emulator.origin} (users, webhooks and failure switches at ${emulator.origin}/)`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...clerkEmulatorAppEnv(config),
    PORT: String(appPort),
    NEXT_TELEMETRY_DISABLED: "1",
    ADMIN_API_KEY: adminApiKey,
    PGLITE_DATA_DIR: dataDir,
    PGLITE_LOCK_TOKEN: lock.holder.token,
  };
  delete env.DATABASE_URL;
  // No `-H 127.0.0.1`: behind clerkMiddleware that makes Next proxy to itself in a loop.
  const next = spawn(path.resolve("node_modules/.bin/next"), ["dev", "-p", String(appPort)], { env, stdio: "inherit" });

  let stopping = false;
  let failed = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (next.exitCode === null) next.kill(signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  next.on("exit", (code) => {
    void close().then(() => process.exit(failed ? 1 : (code ?? 0)));
  });

  // PGlite opens and migrates in instrumentation.ts as next dev starts.
  if (!(await waitForApp(`${appUrl}/`, 180_000))) {
    if (!stopping) fail(`the app did not answer on ${appUrl}/ yet; see the output above`);
    return;
  }
  await warmUp();
  const database = await databaseAnswers(adminApiKey);
  if (stopping) return;
  if (!database.ok) {
    fail(`the app started but its database did not open (${database.reason}); see the output above. Stopping.`);
    failed = true;
    stop("SIGTERM");
    return;
  }
  log(`Open ${appUrl}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
