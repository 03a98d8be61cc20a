/**
 * P1 + P2: browser journeys in Chromium against the production build, counting Clerk `getUser`
 * calls (the emulator's counters) and row versions of the user's `users` row (a trigger the
 * benchmark adds to its own database for this part: one count per inserted or updated row
 * version) for each step. Signing in goes through the emulator's sign-in page, which bumps
 * Clerk's clock (`updated_at`) the way Clerk does.
 */
import { chromium, type Page } from "@playwright/test";

import { chromiumArgs, chromiumPath } from "../../../e2e/support/settings";
import type { PartResult, Row } from "../support/report";
import type { Stack } from "../support/stack";

const userId = "user_demo_grace";

type Step = { journey: string; clerkCalls: number; rowVersions: number; goalCalls: number | null; goalRowVersions: number };

export async function installRowVersionCounter(stack: Stack) {
  await stack.sql.unsafe(`
    create table if not exists bench_row_versions (user_id text primary key, versions integer not null);
    create or replace function bench_count_row_version() returns trigger language plpgsql as $$
    begin
      insert into bench_row_versions values (new.id, 1)
        on conflict (user_id) do update set versions = bench_row_versions.versions + 1;
      return new;
    end $$;
    drop trigger if exists bench_row_versions on users;
    create trigger bench_row_versions after insert or update on users for each row execute function bench_count_row_version();
  `);
  return async () => void (await stack.sql.unsafe(`drop trigger if exists bench_row_versions on users`));
}

async function rowVersions(stack: Stack, id: string) {
  const [row] = await stack.sql<{ versions: number }[]>`select versions from bench_row_versions where user_id = ${id}`;
  return row?.versions ?? 0;
}

/** The once-per-session guard's markers (`clerk-user-sync:v1:<session id>`), so the next page load syncs again. */
export async function clearSyncMarkers(page: Page) {
  await page.evaluate(() => {
    for (const key of Object.keys(window.localStorage)) if (key.startsWith("clerk-user-sync:")) window.localStorage.removeItem(key);
  });
}

export async function waitForSynced(page: Page) {
  await page.locator('[data-testid="sync-status"][data-status="synced"]').waitFor({ timeout: 60_000 });
  // A sync started by mistake would still be in flight: let the page go quiet before counting.
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => undefined);
}

export async function signIn(page: Page, stack: Stack, id: string) {
  await page.goto(`${stack.appUrl}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${stack.emulator.origin}/sign-in**`);
  await page.locator(`button[data-user-id="${id}"]`).click();
  await page.waitForURL("**/dashboard");
  await waitForSynced(page);
}

export async function benchSessions(stack: Stack): Promise<PartResult> {
  const removeCounter = await installRowVersionCounter(stack);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  const steps: Step[] = [];
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const step = async (journey: string, goalCalls: number | null, goalRowVersions: number, action: () => Promise<void>) => {
      await stack.emulator.resetCounters();
      const before = await rowVersions(stack, userId);
      await action();
      steps.push({ journey, clerkCalls: await stack.emulator.count("getUser"), rowVersions: (await rowVersions(stack, userId)) - before, goalCalls, goalRowVersions });
    };

    await step("new session: first sign-in", 1, 1, () => signIn(page, stack, userId));
    await step("same session: 3 reloads", 0, 0, async () => {
      for (let i = 0; i < 3; i++) {
        await page.reload();
        await waitForSynced(page);
      }
    });
    await step("same session: a second tab", 0, 0, async () => {
      const tab = await context.newPage();
      await tab.goto(`${stack.appUrl}/dashboard`);
      await waitForSynced(tab);
      await tab.close();
    });
    await step("same session: remount (client-side navigation away and back)", 0, 0, async () => {
      await page.getByRole("link", { name: "Profile", exact: true }).click();
      await page.waitForURL(/\/profile$/);
      await page.getByRole("link", { name: "Dashboard" }).click();
      await page.waitForURL(/\/dashboard$/);
      await waitForSynced(page);
    });
    await step("new session: sign-out, sign-in (Clerk's clock bumped)", 1, 1, async () => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      await signIn(page, stack, userId);
    });
    await step("identical re-sync: same session, marker cleared, reload", null, 0, async () => {
      await clearSyncMarkers(page);
      await page.reload();
      await waitForSynced(page);
    });
    await context.close();
  } finally {
    await browser.close();
    await removeCounter();
  }

  const rows: Row[] = steps.flatMap((s) => [
    {
      part: "P1 Clerk calls",
      measure: s.journey,
      product: String(s.clerkCalls),
      frameworkFloor: "—",
      floor: "—",
      ratio: "—",
      goal: s.goalCalls === null ? "— (forced)" : String(s.goalCalls),
      met: s.goalCalls === null ? null : s.clerkCalls === s.goalCalls,
    },
    {
      part: "P2 row versions",
      measure: s.journey,
      product: String(s.rowVersions),
      frameworkFloor: "—",
      floor: "—",
      ratio: "—",
      goal: String(s.goalRowVersions),
      met: s.rowVersions === s.goalRowVersions,
    },
  ]);
  return {
    rows,
    raw: { userId, steps },
    notes: [
      "P1/P2: Chromium journeys for one user; Clerk calls from the emulator's getUser counter, row versions from a trigger on users (inserts + updates) added for this part only; cooldown off (USER_SYNC_COOLDOWN_SECONDS=0), so only the browser's once-per-session guard keeps calls at 0.",
    ],
  };
}
