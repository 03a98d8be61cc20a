import { expect, signIn, syncStatus, test } from "./support/fixtures";
import { emulatorUrl } from "./support/settings";

test("a. first sign-in: the dashboard renders while a slow Clerk call syncs, then shows the row", async ({ page, emulator, db }) => {
  await emulator.setFault({ endpoint: "getUser", latencyMs: 2000 });

  await signIn(page, "user_demo_ada");

  // Rendered before the sync finished: the page does not wait for Clerk.
  await expect(syncStatus(page)).toHaveAttribute("data-status", "syncing");
  expect(await db.userRow("user_demo_ada")).toBeNull();

  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Ada Lovelace");
  await expect(page.getByTestId("user-email")).toHaveText("ada@example.com");
  await expect(page.getByTestId("user-tier")).toHaveText("FREE");
  await expect(page.getByTestId("sync-error")).toHaveCount(0);

  const row = await db.userRow("user_demo_ada");
  expect(row).toMatchObject({ email: "ada@example.com", first_name: "Ada", last_name: "Lovelace", tier: "FREE", deleted_at: null });
  expect(row?.last_synced_at).not.toBeNull();
  expect(await emulator.count("getUser")).toBe(1);
});

test("signed out, an authenticated page sends the visitor to sign in and never syncs", async ({ page, emulator }) => {
  for (const path of ["/dashboard", "/dashboard/settings"]) {
    await page.goto(path);
    await page.waitForURL(`${emulatorUrl}/sign-in**`);
  }
  expect(await emulator.count("getUser")).toBe(0);
});
