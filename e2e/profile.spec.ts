import type { Page } from "@playwright/test";

import { expect, signIn, syncStatus, test } from "./support/fixtures";

// A 1×1 PNG, so the browser really decodes what Clerk (the emulator) serves back.
const onePixelPng = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

type EmulatorUserJson = { id: string; first_name: string | null; last_name: string | null; username: string | null; image_url: string; updated_at: number };

test("profile: name, username, interests and avatar edited in the browser reach the emulator, the database and the dashboard, with webhooks off", async ({
  page,
  emulator,
  db,
}, testInfo) => {
  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  // No webhook may help: the dashboard must show the new values from the edit's own answer.
  await emulator.setWebhooks({ drop: true });

  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");
  await expect(page.getByLabel("First name")).toHaveValue("Ada");
  await page.getByLabel("First name").fill("Augusta Ada");
  await page.getByLabel("Last name").fill("King");
  await page.getByLabel("Username").fill("countess_ada");
  await page.getByLabel("Interests").fill(" mathematics, poetry,Mathematics ,  analytical   engines ");
  await page.getByLabel("Avatar").setInputFiles({ name: "ada.png", mimeType: "image/png", buffer: onePixelPng });
  await expect(page.getByTestId("avatar-preview")).toBeVisible();
  await page.getByRole("button", { name: "Save" }).click();

  await expect(page.getByTestId("profile-notice")).toHaveText("Saved.");
  await expect(page.getByTestId("profile-card")).toHaveAttribute("data-pending", "false");
  await expect(page.getByTestId("profile-card-name")).toHaveText("Augusta Ada King");
  await expect(page.getByTestId("profile-card-username")).toHaveText("@countess_ada");
  await expect(page.getByTestId("profile-card-interests")).toHaveText("mathematics, poetry, analytical engines");
  await expect(page.getByLabel("Interests")).toHaveValue("mathematics, poetry, analytical engines");
  await page.screenshot({ path: testInfo.outputPath("profile-saved.png"), fullPage: true });

  const inEmulator = (await emulator.users()) as unknown as EmulatorUserJson[];
  const ada = inEmulator.find((u) => u.id === "user_demo_ada")!;
  expect(ada).toMatchObject({ first_name: "Augusta Ada", last_name: "King", username: "countess_ada" });
  expect(ada.image_url).toContain("/images/uploads/");
  await expect(page.getByTestId("profile-card-avatar")).toHaveAttribute("src", ada.image_url);

  const row = await db.sql<{ first_name: string; last_name: string; username: string; image_url: string; interests: string[]; clerk_updated_at: string }[]>`
    select first_name, last_name, username, image_url, interests, clerk_updated_at::text from users where id = 'user_demo_ada'`;
  expect(row[0]).toEqual({
    first_name: "Augusta Ada",
    last_name: "King",
    username: "countess_ada",
    image_url: ada.image_url,
    interests: ["mathematics", "poetry", "analytical engines"],
    clerk_updated_at: String(ada.updated_at),
  });

  // The dashboard, right away (client-side navigation: same provider, no reload, no webhook).
  await page.getByRole("link", { name: "Dashboard", exact: true }).click();
  await page.waitForURL("**/dashboard");
  await expect(page.getByTestId("user-name")).toHaveText("Augusta Ada King");
  await expect(page.getByTestId("user-username")).toHaveText("@countess_ada");
  await expect(page.getByTestId("user-interests")).toHaveText("mathematics, poetry, analytical engines");
  await expect(page.getByTestId("user-avatar")).toHaveAttribute("src", ada.image_url);
  expect(await page.getByTestId("user-avatar").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(1);
  await page.screenshot({ path: testInfo.outputPath("dashboard-after-profile-edit.png"), fullPage: true });

  // And after a reload.
  await page.reload();
  await expect(page.getByTestId("user-username")).toHaveText("@countess_ada");
  expect((await emulator.deliveries()).filter((d) => d.userId === "user_demo_ada").every((d) => d.status === "dropped")).toBe(true);
});

test("profile: a taken username shows Clerk's error on the field, and nothing changes", async ({ page, emulator, db }) => {
  await signIn(page, "user_demo_alan");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");

  // Grace holds "grace" in Clerk; the app only learns it from Clerk's 422, which comes late here.
  await emulator.setFault({ endpoint: "updateUser", latencyMs: 1_500, remaining: 1 });
  await page.getByLabel("Username").fill("Grace");
  await page.getByRole("button", { name: "Save" }).click();
  // Optimistic: the card shows the value being saved at once…
  await expect(page.getByTestId("profile-card")).toHaveAttribute("data-pending", "true");
  await expect(page.getByTestId("profile-card-username")).toHaveText("@Grace");
  // …and is reconciled to Clerk's answer: refused, so back to what the server holds.
  await expect(page.getByTestId("error-username")).toHaveText("That username is taken. Please try another.");
  await expect(page.getByTestId("profile-card")).toHaveAttribute("data-pending", "false");
  await page.screenshot({ path: test.info().outputPath("profile-username-taken.png"), fullPage: true });
  await expect(page.getByLabel("Username")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Username")).toHaveValue("Grace");
  await expect(page.getByTestId("profile-card-username")).toHaveText("no username");

  const alanRow = await db.sql<{ username: string | null }[]>`select username from users where id = 'user_demo_alan'`;
  expect(alanRow).toEqual([{ username: null }]);
  const alan = ((await emulator.users()) as unknown as EmulatorUserJson[]).find((u) => u.id === "user_demo_alan")!;
  expect(alan.username).toBeNull();

  // An invalid username never leaves the browser.
  const updatesBefore = await emulator.count("updateUser");
  expect(updatesBefore).toBe(1);
  await page.getByLabel("Username").fill("al");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("error-username")).toHaveText("Your username must be between 4 and 64 characters long.");
  expect(await emulator.count("updateUser")).toBe(updatesBefore);

  // Nor does a name carrying an invisible control: a line separator, a bidi mark.
  await page.getByLabel("Username").fill("");
  for (const name of ["Alan\u2028Turing", "\u200fAlan", "Al\u061Can"]) {
    await page.getByLabel("First name").fill(name);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("error-firstName")).toHaveText("First name cannot contain control characters.");
  }
  expect(await emulator.count("updateUser")).toBe(updatesBefore);
});

test("profile: Clerk's per-user limit (10 updates per 10 s) is kept before Clerk and shown with its Retry-After, and nothing changes", async ({ page, emulator, db }) => {
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");

  // Clerk's user.updated echoes arrive a little after each edit's own answer, as they do from Svix.
  await emulator.setWebhooks({ delayMs: 300 });

  // The emulator limits PATCH /v1/users/:id as Clerk does: ten edits go through…
  for (let i = 1; i <= 10; i++) {
    await page.getByLabel("First name").fill(`Grace ${i}`);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("profile-card-name")).toHaveText(`Grace ${i} Hopper`);
    await expect(page.getByTestId("profile-card")).toHaveAttribute("data-pending", "false");
  }
  const before = await db.sql`select first_name, clerk_updated_at, xmin::text from users where id = 'user_demo_grace'`;
  expect(before[0]?.first_name).toBe("Grace 10");

  // …the eleventh within 10 s is refused by the app before it reaches Clerk, with the Retry-After of
  // Clerk's own per-user window, kept in PostgreSQL.
  await page.getByLabel("First name").fill("Amazing Grace");
  await page.getByRole("button", { name: "Save" }).click();
  const tooMany = /^Too many changes in a short time\. Try again in ([1-9]|10) seconds?\.$/;
  await expect(page.getByTestId("profile-error")).toHaveText(tooMany);
  const retryAfterSeconds = Number(tooMany.exec((await page.getByTestId("profile-error").textContent()) ?? "")?.[1]);
  await expect(page.getByLabel("First name")).toHaveValue("Amazing Grace");
  await expect(page.getByTestId("profile-card-name")).toHaveText("Grace 10 Hopper");
  expect(await db.sql`select first_name, clerk_updated_at, xmin::text from users where id = 'user_demo_grace'`).toEqual(before);
  expect(await emulator.count("updateUser")).toBe(10);

  // The user waits the Retry-After as told, then the same form saves (the emulator's limit is also
  // switched off, so the test does not hang on the exact edge of Clerk's 10 s window).
  await emulator.setRateLimits({ enabled: false });
  await page.waitForTimeout(retryAfterSeconds * 1000 + 250);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("profile-notice")).toHaveText("Saved.");
  await expect(page.getByTestId("profile-card-name")).toHaveText("Amazing Grace Hopper");

  // Every echo found the edit already mirrored: the same clock (unchanged) or an older one than
  // the next edit's (stale). None wrote a row version.
  const versionBefore = await db.sql`select xmin::text from users where id = 'user_demo_grace'`;
  const deliveries = (await emulator.webhooksIdle()).filter((d) => d.userId === "user_demo_grace" && d.type === "user.updated");
  expect(deliveries.map((d) => d.status)).toEqual(Array<string>(11).fill("delivered"));
  const outcomes = await db.sql<{ outcome: string }[]>`select outcome from clerk_webhook_events where clerk_user_id = 'user_demo_grace' and event_type = 'user.updated'`;
  expect(outcomes).toHaveLength(11);
  expect(outcomes.filter((o) => o.outcome !== "unchanged" && o.outcome !== "stale")).toEqual([]);
  expect(await db.sql`select xmin::text from users where id = 'user_demo_grace'`).toEqual(versionBefore);
});

/** Every console entry of type error the page's documents get (Chromium's own included), and uncaught exceptions. */
function consoleErrors(page: Page) {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

test("profile: handled form errors (a taken username, files that are not usable images) log no console error; an unexpected failure still does", async ({ page, emulator, db: _db }) => {
  const errors = consoleErrors(page);
  await signIn(page, "user_demo_alan");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");

  // Clerk's 422: shown on the field, and nothing in the console (Next's dev overlay counts console errors as issues).
  await page.getByLabel("Username").fill("grace");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("error-username")).toHaveText("That username is taken. Please try another.");
  // A text file named like a PNG, and a PNG over 2 MiB.
  await page.getByLabel("Avatar").setInputFiles({ name: "notes.png", mimeType: "image/png", buffer: Buffer.from("not an image at all") });
  await expect(page.getByTestId("error-avatar")).toContainText("not a PNG, JPEG, WebP or GIF image");
  await page.getByLabel("Avatar").setInputFiles({ name: "huge.png", mimeType: "image/png", buffer: Buffer.concat([onePixelPng, Buffer.alloc(2 * 1024 * 1024)]) });
  await expect(page.getByTestId("error-avatar")).toHaveText("Choose an image of at most 2 MiB.");
  await page.getByLabel("Username").fill("");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("error-avatar")).toHaveText("Choose an image of at most 2 MiB.");
  // Settled: a late log line would have arrived by now.
  await page.waitForTimeout(500);
  // Chromium itself logs every 4xx answer ("Failed to load resource"), outside the page's
  // JavaScript: Next's overlay never sees it. The 422's own line is the one entry allowed; any
  // console.error of the app's code (tRPC's logger included) fails the test.
  const refusedRequestLine = /^Failed to load resource: the server responded with a status of 422 \(Unprocessable (Entity|Content)\) \(http:\/\/localhost:\d+\/api\/trpc\/user\.updateProfile\?batch=1\)$/;
  expect(errors.filter((line) => !refusedRequestLine.test(line))).toEqual([]);
  expect(errors.filter((line) => refusedRequestLine.test(line))).toHaveLength(1);

  // Clerk failing (a 500, not a refusal) is unexpected: still logged, with the procedure's name.
  await emulator.setFault({ endpoint: "updateUser", status: 500, remaining: 1 });
  await page.getByLabel("First name").fill("Alan M.");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("profile-error")).toBeVisible();
  await expect.poll(() => errors.some((line) => line.includes("user.updateProfile"))).toBe(true);
});

test("profile: the avatar picker never shows a broken preview, never an error beside \"Nothing to save.\", and a valid file clears the notice", async ({ page, emulator: _emulator, db: _db }, testInfo) => {
  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");
  const notice = page.getByTestId("profile-notice");
  const avatarError = page.getByTestId("error-avatar");
  const preview = page.getByTestId("avatar-preview");

  // "Nothing to save.", then a file is picked: the notice goes.
  await page.getByRole("button", { name: "Save" }).click();
  await expect(notice).toHaveText("Nothing to save.");
  await page.getByLabel("Avatar").setInputFiles({ name: "ada.png", mimeType: "image/png", buffer: onePixelPng });
  await expect(notice).toHaveCount(0);
  await expect(preview).toHaveAttribute("data-drawn", "true");
  await expect(preview).toBeVisible();

  // A text file named like a PNG: refused, and no preview at any moment (the image shows only once drawn).
  await page.evaluate(() => {
    const state = window as unknown as { brokenPreviewSeen: boolean };
    state.brokenPreviewSeen = false;
    new MutationObserver(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="avatar-preview"]');
      if (img && img.dataset.drawn !== "true" && getComputedStyle(img).visibility !== "hidden") state.brokenPreviewSeen = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await page.getByLabel("Avatar").setInputFiles({ name: "notes.png", mimeType: "image/png", buffer: Buffer.from("not an image at all") });
  await expect(avatarError).toHaveText("This file is not a PNG, JPEG, WebP or GIF image the browser can read. Choose another.");
  await expect(preview).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { brokenPreviewSeen: boolean }).brokenPreviewSeen)).toBe(false);
  await testInfo.attach("avatar-not-an-image", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });

  // Save with nothing else changed: the error stays, alone.
  await page.getByRole("button", { name: "Save" }).click();
  await expect(avatarError).toBeVisible();
  await expect(notice).toHaveCount(0);

  // Too large: the same.
  await page.getByLabel("Avatar").setInputFiles({ name: "huge.png", mimeType: "image/png", buffer: Buffer.concat([onePixelPng, Buffer.alloc(2 * 1024 * 1024)]) });
  await expect(avatarError).toHaveText("Choose an image of at most 2 MiB.");
  await expect(preview).toHaveCount(0);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(avatarError).toHaveText("Choose an image of at most 2 MiB.");
  await expect(notice).toHaveCount(0);

  // A valid file clears the error and shows its preview; saving it says so.
  await page.getByLabel("Avatar").setInputFiles({ name: "ada.png", mimeType: "image/png", buffer: onePixelPng });
  await expect(avatarError).toHaveCount(0);
  await expect(preview).toHaveAttribute("data-drawn", "true");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(notice).toHaveText("Saved.");
  await expect(avatarError).toHaveCount(0);
});
