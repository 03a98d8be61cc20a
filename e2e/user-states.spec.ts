import { expect, signIn, syncStatus, test } from "./support/fixtures";

type States = { banned: boolean; locked: boolean; deleted_at: Date | null; email: string | null };

/**
 * Clerk's user states reach the mirror's `banned` and `locked` columns by every path: the
 * webhook's `user.updated`, and a sync when that webhook is lost. A lock keeps the user's
 * sessions (so the dashboard, reading the row, says so); a ban revokes them. Neither is a
 * deletion: the row keeps its data.
 */
test("h. a user locked then unlocked in Clerk shows in the mirror, through the webhook and through a sync when the webhook is lost", async ({ page, emulator, db }) => {
  const states = async () => (await db.sql<States[]>`select banned, locked, deleted_at, email from users where id = 'user_demo_ada'`)[0];
  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  expect(await states()).toMatchObject({ banned: false, locked: false });
  await expect(page.getByTestId("user-state")).toHaveCount(0);

  await emulator.updateUser("user_demo_ada", { locked: true });
  expect((await emulator.webhooksIdle()).filter((d) => d.type === "user.updated").map((d) => d.status)).toEqual(["delivered"]);
  await expect.poll(async () => (await states())?.locked).toBe(true);
  // Clerk keeps a locked user's sessions: the same session reads its row.
  await page.reload();
  await expect(page.getByTestId("user-state")).toHaveText("Locked in Clerk (too many failed sign-ins)");
  expect(await states()).toMatchObject({ banned: false, deleted_at: null, email: "ada@example.com" });

  await emulator.updateUser("user_demo_ada", { locked: false });
  await emulator.webhooksIdle();
  await expect.poll(async () => (await states())?.locked).toBe(false);
  await page.reload();
  await expect(page.getByTestId("user-email")).toHaveText("ada@example.com");
  await expect(page.getByTestId("user-state")).toHaveCount(0);

  // The lock's webhook is lost: the next sync (here the user's "Sync again") brings it.
  await emulator.setWebhooks({ drop: true });
  await emulator.updateUser("user_demo_ada", { locked: true });
  expect((await emulator.webhooksIdle()).filter((d) => d.type === "user.updated").at(-1)?.status).toBe("dropped");
  expect((await states())?.locked).toBe(false);
  const fetches = await emulator.count("getUser");
  await page.getByRole("button", { name: "Sync again" }).click();
  await expect.poll(() => emulator.count("getUser")).toBe(fetches + 1);
  await expect.poll(async () => (await states())?.locked).toBe(true);
  await expect(page.getByTestId("user-state")).toHaveText("Locked in Clerk (too many failed sign-ins)");
});

test("h2. a user banned then unbanned in Clerk shows in the mirror, the row kept", async ({ page, emulator, db }) => {
  const states = async () => (await db.sql<States[]>`select banned, locked, deleted_at, email from users where id = 'user_demo_alan'`)[0];
  await signIn(page, "user_demo_alan");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  expect(await states()).toMatchObject({ banned: false, locked: false });

  await emulator.updateUser("user_demo_alan", { banned: true });
  expect((await emulator.webhooksIdle()).filter((d) => d.type === "user.updated").map((d) => d.status)).toEqual(["delivered"]);
  await expect.poll(async () => (await states())?.banned).toBe(true);
  // A ban is not a deletion: nothing is tombstoned or cleared.
  expect(await states()).toMatchObject({ locked: false, deleted_at: null, email: "alan@example.com" });

  await emulator.updateUser("user_demo_alan", { banned: false });
  await emulator.webhooksIdle();
  await expect.poll(async () => (await states())?.banned).toBe(false);
  expect(await states()).toMatchObject({ deleted_at: null, email: "alan@example.com" });
});
