#!/usr/bin/env node
/**
 * `npm run clerk:emulator`: a local stand-in for Clerk (Backend API, Frontend API, sign-in
 * page, Svix-style webhooks, control API) on http://localhost:$CLERK_EMULATOR_PORT.
 * Print the app's env with `--print-env`.
 */
import path from "node:path";

import { readEmulatorConfig, clerkEmulatorAppEnv } from "./app-env";
import { ensureClerkJs } from "./clerk-js-bundle";
import { rateLimitsFromEnv } from "./rate-limits";
import { startClerkEmulator } from "./server";

const log = (line: string) => console.log(`[clerk-emulator] ${line}`);

async function main() {
  const config = readEmulatorConfig();
  if (process.argv.includes("--print-env")) {
    for (const [name, value] of Object.entries(clerkEmulatorAppEnv(config))) console.log(`${name}=${JSON.stringify(value)}`);
    return;
  }
  const clerkJsDir = ensureClerkJs(config.stateDir, log);
  const usersFile = process.env.CLERK_EMULATOR_USERS_FILE;
  const { emulator, close } = await startClerkEmulator({
    ...config,
    clerkJsDir,
    rateLimits: rateLimitsFromEnv(process.env.CLERK_EMULATOR_RATE_LIMITS),
    usersFile: usersFile && path.resolve(usersFile),
    log: process.env.CLERK_EMULATOR_QUIET ? () => undefined : log,
  });
  log(`listening on ${emulator.origin} for the app at ${emulator.appUrl} (state in ${path.resolve(config.stateDir)})`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void close().then(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
