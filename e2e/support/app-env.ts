import { clerkEmulatorAppEnv } from "clerk-user-sync-emulator";

import { adminApiKey, appPort, appUrl, databaseUrl, e2eDistDir, emulatorConfig } from "./settings";

/**
 * The app server's env for the e2e run: the emulator's Clerk values (NEXT_PUBLIC_* are inlined by
 * `next build`, so the build gets them too), the e2e database, and no user.sync cooldown: a new
 * session must reach Clerk (journey c), while "once per session" is the client's guard to prove
 * (journey b). The build goes to its own folder, so `npm start` after `npm run check` never serves
 * a bundle built for the emulator; APP_URL makes clerkMiddleware check each token's `azp`.
 * Specs that start more app instances from the same build pass `overrides`.
 */
export function e2eAppEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...clerkEmulatorAppEnv(emulatorConfig),
    DATABASE_URL: databaseUrl,
    NEXT_DIST_DIR: e2eDistDir,
    APP_URL: appUrl,
    USER_SYNC_COOLDOWN_SECONDS: "0",
    // Journeys change Clerk's users between one another: the health view asks Clerk every time.
    USER_SYNC_CLERK_COUNT_CACHE_SECONDS: "0",
    ADMIN_API_KEY: adminApiKey,
    PORT: String(appPort),
    NEXT_TELEMETRY_DISABLED: "1",
    ...overrides,
  };
}
