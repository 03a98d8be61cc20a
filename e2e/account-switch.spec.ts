import type { Page } from "@playwright/test";

import { emulatorUrl } from "./support/settings";
import { expect, signIn, syncStatus, test } from "./support/fixtures";

/** What each demo account's synced row shows on the dashboard. */
const accounts: Record<string, { name: string; email: string }> = {
  user_demo_ada: { name: "Ada Lovelace", email: "ada@example.com" },
  user_demo_grace: { name: "Grace Hopper", email: "grace@example.com" },
};

/**
 * One state of the page's DOM: the Clerk user the page believes in, the row `useUserSync` shows,
 * and the email a component reading `user.me` from the query cache shows.
 */
type Frame = {
  atMs: number;
  path: string;
  clerkUserId: string | null;
  status: string | null;
  name: string | null;
  email: string | null;
  meEmail: string | null;
};

/**
 * Records every DOM state of every document of the page: a MutationObserver reads the dashboard
 * after each batch of DOM changes (finer than paints), and a requestAnimationFrame loop on every
 * paint besides. Only changes are sent, through a binding that survives navigations.
 */
async function recordFrames(page: Page): Promise<Frame[]> {
  const frames: Frame[] = [];
  await page.exposeFunction("e2eRecordFrame", (frame: Frame) => void frames.push(frame));
  await page.addInitScript(() => {
    const record = (window as unknown as { e2eRecordFrame: (frame: unknown) => Promise<void> }).e2eRecordFrame;
    let last = "";
    const read = () => {
      const text = (testId: string) => document.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null;
      const frame = {
        path: location.pathname,
        clerkUserId: document.querySelector('[data-testid="dashboard"]')?.getAttribute("data-clerk-user-id") ?? null,
        status: document.querySelector('[data-testid="sync-status"]')?.getAttribute("data-status") ?? null,
        name: text("user-name"),
        email: text("user-email"),
        meEmail: text("me-email"),
      };
      const key = JSON.stringify(frame);
      if (key === last) return;
      last = key;
      void record({ ...frame, atMs: Date.now() });
    };
    new MutationObserver(read).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    const onFrame = () => {
      read();
      requestAnimationFrame(onFrame);
    };
    requestAnimationFrame(onFrame);
  });
  return frames;
}

/** Uncaught exceptions of the page's documents (a remount on the switch must not throw). */
function pageErrors(page: Page) {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** Frames showing a row (either way) that is not the row of the Clerk user the page shows, or one with no Clerk user. */
function foreignFrames(frames: Frame[]) {
  // Empty or "—" shows no account at all (the `user.me` reader renders nothing while it loads).
  const shows = (value: string | null) => value !== null && value !== "" && value !== "—";
  return frames.filter((frame) => {
    const expected = frame.clerkUserId ? accounts[frame.clerkUserId] : undefined;
    const foreignRow = (shows(frame.name) || shows(frame.email)) && (frame.name !== expected?.name || frame.email !== expected?.email);
    return foreignRow || (shows(frame.meEmail) && frame.meEmail !== expected?.email);
  });
}

async function expectShows(page: Page, userId: string) {
  await expect(page.getByTestId("dashboard")).toHaveAttribute("data-clerk-user-id", userId);
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-name")).toHaveText(accounts[userId]!.name);
  await expect(page.getByTestId("user-email")).toHaveText(accounts[userId]!.email);
  await expect(page.getByTestId("me-email")).toHaveText(accounts[userId]!.email);
}

/** Clerk's multi-session sign-in of a second account: the app's "Add account", then a pick on the sign-in page. */
async function addAccount(page: Page, userId: string) {
  await page.getByRole("button", { name: "Add account" }).click();
  await page.waitForURL(`${emulatorUrl}/sign-in**`);
  await page.locator(`button[data-user-id="${userId}"]`).click();
  await page.waitForURL("**/dashboard");
}

/** clerk-js `setActive` to the other signed-in account: no navigation, no reload. */
async function switchTo(page: Page, userId: string) {
  await page.locator(`button[data-switch-to-user-id="${userId}"]`).click();
}

/** A mark on the current document: still there later means no reload happened in between. */
async function markDocument(page: Page) {
  await page.evaluate(() => Object.assign(window, { e2eDocumentMark: true }));
}

async function documentIsMarked(page: Page) {
  return page.evaluate(() => (window as { e2eDocumentMark?: boolean }).e2eDocumentMark === true);
}

test("g. switching accounts without a reload (A, add B, then B → A → B → A within the 30 s query staleTime) never shows one account's row under the other", async ({
  page,
  emulator,
}) => {
  const frames = await recordFrames(page);
  const errors = pageErrors(page);
  await signIn(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  await addAccount(page, "user_demo_grace");
  await expectShows(page, "user_demo_grace");
  const graceSyncedAtMs = Date.now();

  await markDocument(page);
  const switches: string[] = [];
  for (const userId of ["user_demo_ada", "user_demo_grace", "user_demo_ada"]) {
    const firstFrame = frames.length;
    await switchTo(page, userId);
    await expect(page.getByTestId("dashboard")).toHaveAttribute("data-clerk-user-id", userId);
    await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
    await expect(page.getByTestId("user-name")).not.toHaveText("—");
    expect(foreignFrames(frames)).toEqual([]);
    await expectShows(page, userId);
    switches.push(frames.slice(firstFrame).map((frame) => `${frame.clerkUserId}:${frame.status}:${frame.name}`).join(" → "));
  }
  const switchedBackWithinMs = Date.now() - graceSyncedAtMs;
  expect(await documentIsMarked(page)).toBe(true);
  // A reload stays on the account switched to last (clerk-js touched it: Clerk's last active session).
  await page.reload();
  await expectShows(page, "user_demo_ada");
  // Each account's session synced once; a switch back to a session that already synced reads the row (user.me).
  expect(await emulator.count("getUser")).toBe(2);

  console.log(`[account-switch] ${frames.length} DOM states recorded; A → B → A done ${switchedBackWithinMs} ms after B's sync`);
  for (const line of switches) console.log(`[account-switch] ${line}`);
  // The DOM poll saw each switch: a state under the new account before its row arrived, then the row.
  expect(frames.filter((frame) => frame.clerkUserId === "user_demo_ada").length).toBeGreaterThan(2);
  expect(frames.filter((frame) => frame.clerkUserId === "user_demo_grace").length).toBeGreaterThan(2);
  // The cached row of the other account would still be fresh (30 s staleTime): this is the window that leaked.
  expect(switchedBackWithinMs).toBeLessThan(30_000);
  expect(foreignFrames(frames)).toEqual([]);
  expect(errors).toEqual([]);
});

test("h. switching to an account whose sync is pending, then fails, shows nothing of the account switched from", async ({ page, emulator }) => {
  const frames = await recordFrames(page);
  const errors = pageErrors(page);
  // Ada's session never syncs: Clerk's Backend API fails while she is signed in.
  await emulator.setFault({ endpoint: "getUser", status: 500 });
  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "error");
  await page.getByRole("button", { name: "Add account" }).click();
  await page.waitForURL(`${emulatorUrl}/sign-in**`);
  await emulator.clearFaults();
  await page.locator(`button[data-user-id="user_demo_grace"]`).click();
  await page.waitForURL("**/dashboard");
  await expectShows(page, "user_demo_grace");

  // Back to Ada: her session has not synced, so the switch syncs it; Clerk is slow, then fails.
  await markDocument(page);
  await emulator.setFault({ endpoint: "getUser", latencyMs: 1_500, status: 500, remaining: 1 });
  const firstFrame = frames.length;
  await switchTo(page, "user_demo_ada");
  await expect(page.getByTestId("dashboard")).toHaveAttribute("data-clerk-user-id", "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "syncing");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "error");
  await expect(page.getByTestId("sync-error")).toContainText("retrying automatically");
  // The retry succeeds (the fault was for one call).
  await expectShows(page, "user_demo_ada");
  expect(await documentIsMarked(page)).toBe(true);

  const underAda = frames.slice(firstFrame).filter((frame) => frame.clerkUserId === "user_demo_ada");
  console.log(`[account-switch] ${underAda.map((frame) => `${frame.status}:${frame.name}`).join(" → ")}`);
  expect(underAda.map((frame) => frame.status)).toEqual(expect.arrayContaining(["syncing", "error", "synced"]));
  expect(foreignFrames(frames)).toEqual([]);
  expect(errors).toEqual([]);
});

test("i. the active account deleted in Clerk while another is signed in: a notice says the other account took over; a switch the user makes says nothing", async ({ page, emulator, db: _db }, testInfo) => {
  const errors = pageErrors(page);
  const notice = page.getByTestId("account-change-notice");
  await signIn(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  await addAccount(page, "user_demo_grace");
  await expectShows(page, "user_demo_grace");
  // Switches the user makes, either way: no notice.
  await switchTo(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  await page.reload();
  await expectShows(page, "user_demo_ada");
  await expect(notice).toHaveCount(0);

  // Ada is deleted in Clerk (from its dashboard, another tab, the emulator's page): her session is
  // revoked and Clerk makes Grace's the active one, here on the next page load.
  await emulator.deleteUser("user_demo_ada");
  await page.reload();
  await expectShows(page, "user_demo_grace");
  await expect(notice).toHaveAttribute("data-user-id", "user_demo_grace");
  await expect(notice).toContainText("The account you were using is no longer signed in here");
  await expect(notice).toContainText("grace@example.com");
  await testInfo.attach("account-change-notice", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });
  // It stays on other pages until dismissed; dismissed, it is gone, and does not come back on a reload.
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");
  await expect(notice).toBeVisible();
  await notice.getByRole("button", { name: "Dismiss" }).click();
  await expect(notice).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("profile-card-name")).toHaveText("Grace Hopper");
  await expect(notice).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("i2. the same without a reload: once clerk-js finds the session revoked, the tab is signed out and sent to sign in, never silently switched", async ({ page, emulator, db: _db }) => {
  // clerk-js refreshes the session token before it expires (the emulator's last 60 s).
  test.setTimeout(150_000);
  const frames = await recordFrames(page);
  const errors = pageErrors(page);
  await signIn(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  await addAccount(page, "user_demo_grace");
  await switchTo(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  const deletedAtFrame = frames.length;

  await emulator.deleteUser("user_demo_ada");
  await page.waitForURL(`${emulatorUrl}/sign-in**`, { timeout: 90_000 });
  // Never Grace's account on the page without the user choosing it.
  expect(frames.slice(deletedAtFrame).filter((frame) => frame.clerkUserId === "user_demo_grace")).toEqual([]);
  await page.locator('button[data-user-id="user_demo_grace"]').click();
  await page.waitForURL("**/dashboard");
  await expectShows(page, "user_demo_grace");
  expect(foreignFrames(frames)).toEqual([]);
  expect(errors).toEqual([]);
});

test("j. signed out under an open dashboard (from another tab), the page never offers \"Add account\"", async ({ page, context, emulator: _emulator, db: _db }) => {
  // Every DOM state of the first tab: does it show the signed-out card, and "Add account" beside it?
  const states: { signedOut: boolean; addAccount: boolean }[] = [];
  await page.exposeFunction("e2eRecordSignedOut", (state: { signedOut: boolean; addAccount: boolean }) => void states.push(state));
  await page.addInitScript(() => {
    const record = (window as unknown as { e2eRecordSignedOut: (state: unknown) => Promise<void> }).e2eRecordSignedOut;
    let last = "";
    new MutationObserver(() => {
      const state = {
        signedOut: !!document.querySelector('[data-testid="signed-out"]'),
        addAccount: [...document.querySelectorAll("button")].some((button) => button.textContent?.trim() === "Add account"),
      };
      const key = JSON.stringify(state);
      if (key !== last) void record(state);
      last = key;
    }).observe(document, { subtree: true, childList: true });
  });
  await signIn(page, "user_demo_ada");
  await expectShows(page, "user_demo_ada");
  await expect(page.getByRole("button", { name: "Add account" })).toBeVisible();
  const otherTab = await context.newPage();
  await otherTab.goto("/dashboard");
  await expect(syncStatus(otherTab)).toHaveAttribute("data-status", "synced");
  await otherTab.getByRole("button", { name: "Sign out" }).click();
  await otherTab.waitForURL((url) => url.pathname === "/");
  await otherTab.close();
  // Clerk tells the first tab: its dashboard says the session ended, then the page goes to sign in.
  await page.waitForURL(/\/sign-in/, { timeout: 30_000 });
  expect(states.some((state) => state.signedOut)).toBe(true);
  expect(states.filter((state) => state.signedOut && state.addAccount)).toEqual([]);
});
