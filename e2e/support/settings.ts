/**
 * Where the e2e run puts things. The app is a production build on its own port, beside a Clerk
 * emulator of its own, so a running `npm run demo` (3000/4001) does not interfere.
 */
export const appPort = Number(process.env.E2E_APP_PORT ?? 3100);
export const emulatorPort = Number(process.env.E2E_CLERK_EMULATOR_PORT ?? 4101);
export const appUrl = `http://localhost:${appPort}`;
export const emulatorUrl = `http://localhost:${emulatorPort}`;
export const emulatorConfig = { port: emulatorPort, appUrl, stateDir: process.env.CLERK_EMULATOR_STATE_DIR ?? ".clerk-emulator" };

/** Where the e2e production build goes (next.config.mjs reads NEXT_DIST_DIR), never `.next`. */
export const e2eDistDir = ".next-e2e";

/** Dropped, re-created and migrated from `drizzle/` by the global setup. */
export const databaseUrl = process.env.E2E_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/user_sync_e2e";

/** The app's ADMIN_API_KEY in the e2e run (a test value, never a real one). */
export const adminApiKey = process.env.E2E_ADMIN_API_KEY ?? "e2e_admin_key_0123456789abcdef0123456789abcdef";

export const chromiumPath = process.env.E2E_CHROMIUM_PATH ?? "/usr/bin/chromium";
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
