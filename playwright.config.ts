import { defineConfig, devices } from "@playwright/test";

import { e2eAppEnv } from "./e2e/support/app-env";
import { chromiumArgs, chromiumPath, appPort, appUrl, emulatorConfig, emulatorUrl } from "./e2e/support/settings";

const ci = !!process.env.CI;

const appEnv = e2eAppEnv();

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  // The journeys share one emulator and one database.
  workers: 1,
  fullyParallel: false,
  retries: ci ? 1 : 0,
  forbidOnly: ci,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: ci ? [["list"], ["html", { open: "never" }]] : "list",
  use: {
    baseURL: appUrl,
    screenshot: "only-on-failure",
    trace: "on-first-retry",
  },
  projects: [
    {
      name: "chromium",
      // Debian's Chromium: Playwright cannot download its own browsers here.
      use: { ...devices["Desktop Chrome"], launchOptions: { executablePath: chromiumPath, args: chromiumArgs } },
    },
  ],
  webServer: [
    {
      command: "npx tsx packages/clerk-emulator/src/cli.ts",
      url: `${emulatorUrl}/__control/health`,
      env: {
        CLERK_EMULATOR_PORT: String(emulatorConfig.port),
        CLERK_EMULATOR_APP_URL: appUrl,
        CLERK_EMULATOR_STATE_DIR: emulatorConfig.stateDir,
        CLERK_EMULATOR_QUIET: "1",
      },
      reuseExistingServer: false,
      timeout: 120_000,
    },
    {
      // A production build in its own folder (NEXT_DIST_DIR), beside `npm run build`'s and `next dev`'s.
      command: `npx next build && npx next start -p ${appPort}`,
      url: appUrl,
      env: appEnv,
      reuseExistingServer: false,
      timeout: 300_000,
    },
  ],
});
