import { expect, signIn, syncStatus, test } from "./support/fixtures";

test("f. a user deleted in Clerk is tombstoned by the webhook, and nothing brings the row back", async ({ page, emulator, db }) => {
  await signIn(page, "user_demo_alan");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("Alan Turing");
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
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText("—");

  const row = await db.userRow("user_demo_alan");
  expect(row?.deleted_at).not.toBeNull();
  expect(row).toMatchObject({ email: null, first_name: null, last_name: null });
});
