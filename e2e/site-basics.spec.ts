import { expect, signIn, syncStatus, test } from "./support/fixtures";
import { appUrl } from "./support/settings";

test("every page has an icon that loads (no favicon 404), and no console error on the way in", async ({ page, request, emulator: _emulator, db: _db }) => {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${message.text()} (${message.location().url})`);
  });
  await page.goto("/");
  const href = await page.locator('link[rel="icon"]').first().getAttribute("href");
  expect(href).toBeTruthy();
  const icon = await request.get(href!);
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/");
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  // The app's own pages (the emulator's sign-in page stands in for Clerk's and is not judged here).
  expect(errors.filter((line) => line.includes(appUrl))).toEqual([]);
});

test("the nav has no \"Settings\" (it had none); its old address leads to the profile, where the settings are", async ({ page, emulator: _emulator, db: _db }) => {
  await signIn(page, "user_demo_grace");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link")).toHaveText(["Home", "Dashboard", "Profile"]);
  await page.goto("/dashboard/settings");
  await page.waitForURL("**/profile");
  await expect(page.getByRole("heading", { name: "Profile" })).toBeVisible();
});

test("a phone-only user sees her phone number where an email would be", async ({ page, db }) => {
  await signIn(page, "user_demo_katherine");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Katherine Johnson");
  await expect(page.getByTestId("user-email")).toHaveText("+15555550142");
  await expect(page.getByTestId("me-email")).toHaveText("+15555550142");
  expect(await db.userRow("user_demo_katherine")).toMatchObject({ email: null });
});
