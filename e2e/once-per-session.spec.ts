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

  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Profile" })).toBeVisible();
  await expect(page.getByTestId("profile-card-name")).toHaveText("Grace Hopper");
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

test("c2. a sign-in moves Clerk's clock: each new session calls Clerk once, the row takes the newer clock, nothing mirrored changes", async ({
  page,
  emulator,
  db,
}) => {
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  expect(await emulator.count("getUser")).toBe(1);
  const firstClerk = await emulator.user("user_demo_grace");
  const firstRow = await db.userRow("user_demo_grace");
  expect(firstClerk.last_sign_in_at).not.toBeNull();
  expect(Number(firstRow?.clerk_updated_at)).toBe(firstClerk.updated_at);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await page.reload();
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");
  expect(await emulator.count("getUser")).toBe(2);

  // Only the sign-in happened in Clerk: a newer clock, the same name and email.
  const secondClerk = await emulator.user("user_demo_grace");
  expect(secondClerk.last_sign_in_at).toBeGreaterThan(firstClerk.last_sign_in_at!);
  expect(secondClerk.updated_at).toBeGreaterThan(firstClerk.updated_at);
  const secondRow = await db.userRow("user_demo_grace");
  expect(Number(secondRow?.clerk_updated_at)).toBe(secondClerk.updated_at);
  expect(secondRow).toMatchObject({ email: firstRow?.email, first_name: firstRow?.first_name, last_name: firstRow?.last_name });
  // A sign-in sends no webhook: the clock reached the row through the new session's sync.
  expect(await emulator.deliveries()).toEqual([]);
});
