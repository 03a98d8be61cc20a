import type { Page } from "@playwright/test";

import { expect, syncStatus, test } from "./support/fixtures";
import { startNextDev } from "./support/next-dev";
import { appPort, appUrl, emulatorUrl } from "./support/settings";

/**
 * Clerk's prebuilt components against the emulator, in the production build and in `next dev`:
 * `<SignInButton/>` sends the user to the emulator's sign-in page (Clerk's Account Portal role),
 * and the header's `<UserButton/>` (clerk-js 6 loads it from @clerk/ui's own bundle, which the
 * emulator serves at NEXT_PUBLIC_CLERK_UI_URL) renders the signed-in user and signs them out.
 */
async function componentsJourney(page: Page, origin: string, syncTimeoutMs?: number) {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));

  await page.goto(`${origin}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${emulatorUrl}/sign-in**`);
  await page.locator('button[data-user-id="user_demo_ada"]').click();
  await page.waitForURL(`${origin}/dashboard`);
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced", { timeout: syncTimeoutMs });

  const trigger = page.getByTestId("user-button").locator(".cl-userButtonTrigger");
  await expect(trigger).toBeVisible();
  await trigger.click();
  const panel = page.getByRole("dialog", { name: "Account panel" });
  await expect(panel).toContainText("Ada Lovelace");
  await expect(panel.getByRole("button", { name: "Manage account" })).toBeVisible();

  await panel.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByTestId("user-button")).toHaveCount(0);
  await page.goto(`${origin}/dashboard`);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect(errors.filter((text) => /Ui components|Failed to load Clerk|clerk_ui/i.test(text))).toEqual([]);
}

test("Clerk components (next start): <SignInButton/> reaches the emulator's sign-in page, <UserButton/> renders the user and signs out", async ({ page, emulator: _emulator, db: _db }) => {
  await componentsJourney(page, appUrl);
});

test("Clerk components (next dev): the same journey against the development server", async ({ page, emulator: _emulator, db: _db }) => {
  // `next dev` compiles each route on its first request.
  test.setTimeout(300_000);
  // As `npm run demo` does: the routes of a first sign-in compile before it, not during it.
  const { url: devUrl, stop } = await startNextDev(appPort + 30, ["/dashboard", "/api/trpc/user.me"]);
  try {
    await componentsJourney(page, devUrl, 60_000);
  } finally {
    stop();
  }
});
