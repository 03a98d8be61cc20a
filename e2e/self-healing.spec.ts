import { expect, signIn, syncStatus, test } from "./support/fixtures";

test("d. a dropped user.created webhook: the row appears on the first page load anyway", async ({ page, emulator, db }) => {
  await emulator.setWebhooks({ drop: true });
  const user = await emulator.createUser({ email: "nova@example.com", firstName: "Nova", lastName: "Newcomer" });
  const deliveries = await emulator.deliveries();
  expect(deliveries.filter((d) => d.userId === user.id).map((d) => [d.type, d.status])).toEqual([["user.created", "dropped"]]);
  expect(await db.userRow(user.id)).toBeNull();

  await signIn(page, user.id);
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Nova Newcomer");
  await expect(page.getByTestId("user-email")).toHaveText("nova@example.com");

  expect(await db.userRow(user.id)).toMatchObject({ email: "nova@example.com", first_name: "Nova", deleted_at: null });
  expect(await emulator.count("getUser")).toBe(1);
});

test("e. Clerk 5xx on first load: the page works, shows the error, and recovers by itself", async ({ page, emulator, db }) => {
  await emulator.setFault({ endpoint: "getUser", status: 500 });

  await signIn(page, "user_demo_grace");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(syncStatus(page)).toHaveAttribute("data-status", "error");
  await expect(page.getByTestId("sync-error")).toContainText("Clerk's Backend API failed (500)");
  await expect(page.getByTestId("sync-error")).toContainText("retrying automatically");
  expect(await db.userRow("user_demo_grace")).toBeNull();

  // A mark on this document: it must survive, i.e. the recovery needs no reload.
  await page.evaluate(() => Object.assign(window, { e2eDocumentMark: true }));
  await emulator.clearFaults();

  // Backoff is 1 s base, doubling (with jitter): the next attempts land within a few seconds.
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced", { timeout: 20_000 });
  await expect(page.getByTestId("user-name")).toHaveText("Grace Hopper");
  await expect(page.getByTestId("sync-error")).toHaveCount(0);
  expect(await page.evaluate(() => (window as { e2eDocumentMark?: boolean }).e2eDocumentMark)).toBe(true);
  expect(await db.userRow("user_demo_grace")).toMatchObject({ email: "grace@example.com", deleted_at: null });
  expect(await emulator.count("getUser")).toBeGreaterThanOrEqual(2);
});
