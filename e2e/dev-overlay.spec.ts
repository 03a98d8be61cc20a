/**
 * The newcomer's view in `next dev`: Next's dev overlay counts every `console.error` as an issue
 * ("1 Issue" in red). Errors the form shows itself (a taken username) must not raise one; an
 * unexpected failure (Clerk answering 500) still does, so the check below can fail.
 */
import type { Page } from "@playwright/test";

import { expect, signIn, syncStatus, test } from "./support/fixtures";
import { startNextDev } from "./support/next-dev";
import { appPort } from "./support/settings";

/** The overlay's issue badge ("1 Issue", "2 Issues"), inside its shadow root (Playwright's CSS pierces it). */
function issueBadge(page: Page) {
  return page.locator("nextjs-portal").getByText(/^\d+ Issues?$/);
}

test("next dev: a taken username raises no dev-overlay issue; a Clerk 500 does", async ({ page, emulator, db: _db }) => {
  // `next dev` compiles each route on its first request. `db` empties the tables: a tombstone an
  // earlier journey left for this user would (rightly) keep the account deleted.
  test.setTimeout(420_000);
  const { url: devUrl, stop } = await startNextDev(Number(process.env.E2E_DEV_OVERLAY_PORT ?? appPort + 33), ["/dashboard", "/profile", "/api/trpc/user.me"]);
  try {
    await page.goto(devUrl);
    await signIn(page, "user_demo_alan");
    await expect(syncStatus(page)).toHaveAttribute("data-status", "synced", { timeout: 60_000 });
    await page.goto(`${devUrl}/profile`);
    await expect(page.getByLabel("Username")).toBeVisible({ timeout: 60_000 });
    await page.getByLabel("Username").fill("grace");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("error-username")).toHaveText("That username is taken. Please try another.", { timeout: 30_000 });
    await page.waitForTimeout(1_000);
    await expect(issueBadge(page)).toHaveCount(0);

    // Unexpected: Clerk fails. The overlay shows it (the same badge the check above looks for).
    await emulator.setFault({ endpoint: "updateUser", status: 500, remaining: 1 });
    await page.getByLabel("Username").fill("");
    await page.getByLabel("First name").fill("Alan M.");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("profile-error")).toBeVisible({ timeout: 30_000 });
    await expect(issueBadge(page)).toHaveCount(1, { timeout: 30_000 });
  } finally {
    stop();
  }
});
