/**
 * `npm run demo`: the whole app on one machine with no Clerk account and no database server.
 * Starts the Clerk emulator (seeded demo users) and `next dev` with the emulator's env and no
 * DATABASE_URL, so the app uses embedded PGlite in `.data/pglite`.
 */
import { spawn } from "node:child_process";
import path from "node:path";

import { clerkEmulatorAppEnv, ensureClerkBundles, fidelityFromEnv, rateLimitsFromEnv, readEmulatorConfig, startClerkEmulator } from "clerk-user-sync-emulator";

const appPort = Number(process.env.PORT ?? 3000);
const config = { ...readEmulatorConfig(), appUrl: `http://localhost:${appPort}` };
const log = (line: string) => console.log(`[demo] ${line}`);

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

async function warmUp(urls: string[]) {
  for (const url of urls) {
    try {
      await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(120_000) });
    } catch {
      // Only a warm-up: the route compiles on its first real request instead.
    }
  }
}

async function main() {
  const bundles = ensureClerkBundles(config.stateDir, log);
  const { emulator, close } = await startClerkEmulator({
    ...config,
    ...bundles,
    rateLimits: rateLimitsFromEnv(process.env.CLERK_EMULATOR_RATE_LIMITS),
    fidelity: fidelityFromEnv(),
    usersFile: path.resolve(config.stateDir, "demo-users.json"),
    log: (line) => {
      if (!line.startsWith("fapi ")) console.log(`[clerk-emulator] ${line}`);
    },
  });
  log(`Clerk emulator on ${emulator.origin} (users, webhooks and failure switches at ${emulator.origin}/)`);

  const env: NodeJS.ProcessEnv = { ...process.env, ...clerkEmulatorAppEnv(config), PORT: String(appPort), NEXT_TELEMETRY_DISABLED: "1" };
  delete env.DATABASE_URL;
  // No `-H 127.0.0.1`: behind clerkMiddleware that makes Next proxy to itself in a loop.
  const next = spawn(path.resolve("node_modules/.bin/next"), ["dev", "-p", String(appPort)], { env, stdio: "inherit" });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (next.exitCode === null) next.kill(signal);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  next.on("exit", (code) => {
    void close().then(() => process.exit(code ?? 0));
  });

  // PGlite opens and migrates in instrumentation.ts as next dev starts; `next dev` compiles a
  // route on its first request, so the routes of a first sign-in are requested here, not by it
  // (signed out: the dashboard redirects and user.me answers 401, both after compiling).
  if (await waitForApp(`http://localhost:${appPort}/`, 180_000)) {
    await warmUp([`/dashboard`, `/api/trpc/user.me`].map((route) => `http://localhost:${appPort}${route}`));
    log(`Open http://localhost:${appPort}`);
  } else if (!stopping) {
    log(`the app did not answer on http://localhost:${appPort}/ yet; see the output above`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
