import { expect, signIn, syncStatus, test } from "./support/fixtures";

test("b. reloads, a second tab and client-side navigation in one session call Clerk once", async ({ page, context, emulator }) => {
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");
  expect(await emulator.count("getUser")).toBe(1);

  // Each step waits for the row on screen, so a sync it started would have reached Clerk by then.
  await page.reload();
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");

  const secondTab = await context.newPage();
  await secondTab.goto("/dashboard");
  await expect(syncStatus(secondTab)).toHaveAttribute("data-status", "synced");
  await expect(secondTab.getByTestId("user-name")).toHaveText("Grace Hopper");
  await secondTab.close();

  await page.getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/dashboard\/settings$/);
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");

  expect(await emulator.count("getUser")).toBe(1);
});

test("c. a new session after sign-out syncs again, once, and brings the name changed in Clerk", async ({ page, emulator, db }) => {
  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Ada Lovelace");
  expect(await emulator.count("getUser")).toBe(1);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();

  // No webhook: the new name can only come from the new session's sync.
  await emulator.setWebhooks({ drop: true });
  await emulator.updateUser("user_demo_ada", { firstName: "Augusta" });

  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Augusta Lovelace");
  expect(await emulator.count("getUser")).toBe(2);
  expect(await db.userRow("user_demo_ada")).toMatchObject({ first_name: "Augusta" });
});
