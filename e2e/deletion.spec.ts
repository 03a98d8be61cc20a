import { expect, signIn, syncStatus, test } from "./support/fixtures";

test("f. a user deleted in Clerk is tombstoned by the webhook, and nothing brings the row back", async ({ page, emulator, db }, testInfo) => {
  await signIn(page, "user_demo_alan");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Alan Turing");
  // The avatar is the synced row's image, and the browser loaded it.
  const imageUrl = (await db.userRow("user_demo_alan"))?.image_url;
  expect(imageUrl).toMatch(/^http:\/\/localhost:\d+\//);
  await expect(page.getByTestId("user-avatar")).toHaveAttribute("src", imageUrl!);
  await expect.poll(() => page.getByTestId("user-avatar").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  await expect(page.getByTestId("sync-summary")).toHaveText("Account set up from Clerk just now");
  await testInfo.attach("dashboard", { body: await page.screenshot({ path: testInfo.outputPath("dashboard.png"), fullPage: true }), contentType: "image/png" });
  const alan = (await emulator.users()).find((u) => u.id === "user_demo_alan")!;

  await emulator.deleteUser("user_demo_alan");
  const deleted = (await emulator.webhooksIdle()).find((d) => d.type === "user.deleted");
  expect(deleted).toMatchObject({ status: "delivered", userId: "user_demo_alan" });
  await expect
    .poll(async () => (await db.userRow("user_demo_alan"))?.deleted_at ?? null)
    .not.toBeNull();
  expect(await db.userRow("user_demo_alan")).toMatchObject({ email: null, first_name: null, last_name: null });

  // A late user.updated, newer than the deletion by Clerk's clock, signed and delivered.
  const late = await emulator.sendEvent("user.updated", { ...alan, first_name: "Resurrected", updated_at: Date.now() + 60_000 });
  const lateDelivery = (await emulator.webhooksIdle()).find((d) => d.id === late.id);
  expect(lateDelivery?.status).toBe("delivered");

  // And a sync from the still-open page: Clerk answers 404 now.
  await page.getByRole("button", { name: "Sync again" }).click();
  await expect.poll(() => emulator.count("getUser")).toBe(2);
  // The page says what happened instead of an empty profile, and offers the way out.
  await expect(page.getByTestId("account-deleted")).toContainText("This account no longer exists");
  await expect(page.getByTestId("user-name")).toHaveCount(0);
  await testInfo.attach("dashboard-deleted", { body: await page.screenshot({ path: testInfo.outputPath("dashboard-deleted.png"), fullPage: true }), contentType: "image/png" });

  const row = await db.userRow("user_demo_alan");
  expect(row?.deleted_at).not.toBeNull();
  expect(row).toMatchObject({ email: null, first_name: null, last_name: null });

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});
