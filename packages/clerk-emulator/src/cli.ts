#!/usr/bin/env node
/**
 * `npx clerk-emulator` (`npm run clerk:emulator` here): a local stand-in for Clerk (Backend API,
 * Frontend API, the prebuilt components' bundles, sign-in page, Svix-style webhooks, control API)
 * for the Next.js app at `--app-url`. `--print-env` prints the app's env instead.
 */
import path from "node:path";
import { parseArgs } from "node:util";

import { clerkEmulatorAppEnv, readEmulatorConfig } from "./app-env";
import { ensureClerkBundles } from "./clerk-js-bundle";
import { fidelityFromEnv } from "./fidelity";
import { rateLimitsFromEnv } from "./rate-limits";
import { startClerkEmulator } from "./server";

const usage = `Usage: clerk-emulator [--app-url <url>] [--port <port>] [--state-dir <dir>] [--print-env]

  --app-url    the Next.js app's origin (default http://localhost:3000, or CLERK_EMULATOR_APP_URL)
  --port       where the emulator listens (default 4001, or CLERK_EMULATOR_PORT)
  --state-dir  its keys, secrets and the clerk-js bundles (default .clerk-emulator, or CLERK_EMULATOR_STATE_DIR)
  --print-env  print the env the app needs (for .env.local) and exit

Use localhost (not 127.0.0.1) for the app and the emulator: they share cookies by host name.
Switches: CLERK_EMULATOR_RATE_LIMITS (off | requests per 10 s), CLERK_EMULATOR_USERS_FILE (keep
users across restarts), CLERK_EMULATOR_<FIDELITY SETTING> (see the README), CLERK_EMULATOR_QUIET.`;

const log = (line: string) => console.log(`[clerk-emulator] ${line}`);

function readArguments() {
  const { values } = parseArgs({
    options: {
      "app-url": { type: "string" },
      port: { type: "string" },
      "state-dir": { type: "string" },
      "print-env": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const config = readEmulatorConfig({
    ...process.env,
    ...(values["app-url"] !== undefined && { CLERK_EMULATOR_APP_URL: values["app-url"] }),
    ...(values.port !== undefined && { CLERK_EMULATOR_PORT: values.port }),
    ...(values["state-dir"] !== undefined && { CLERK_EMULATOR_STATE_DIR: values["state-dir"] }),
  });
  return { config, printEnv: values["print-env"], help: values.help };
}

async function main() {
  let parsed: ReturnType<typeof readArguments>;
  try {
    parsed = readArguments();
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  }
  const { config, printEnv, help } = parsed;
  if (help) return console.log(usage);
  if (printEnv) {
    console.log(`# The Clerk emulator on http://localhost:${config.port} for the app at ${config.appUrl} (npx clerk-emulator --print-env)`);
    for (const [name, value] of Object.entries(clerkEmulatorAppEnv(config))) console.log(`${name}=${JSON.stringify(value)}`);
    return;
  }
  const { clerkJsDir, clerkUiDir } = ensureClerkBundles(config.stateDir, log);
  const usersFile = process.env.CLERK_EMULATOR_USERS_FILE;
  const { emulator, close } = await startClerkEmulator({
    ...config,
    clerkJsDir,
    clerkUiDir,
    rateLimits: rateLimitsFromEnv(process.env.CLERK_EMULATOR_RATE_LIMITS),
    fidelity: fidelityFromEnv(),
    usersFile: usersFile && path.resolve(usersFile),
    log: process.env.CLERK_EMULATOR_QUIET ? () => undefined : log,
  });
  log(`listening on ${emulator.origin} for the app at ${emulator.appUrl} (state in ${path.resolve(config.stateDir)})`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void close().then(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
