import type { Page } from "@playwright/test";

import { expect, signIn, test } from "./support/fixtures";
import { adminApiKey } from "./support/settings";

/** tRPC's GET URL of a query with no input (superjson: `{ json: undefined }` is sent as nothing). */
const overviewUrl = "/api/trpc/admin.overview";
const lastRunUrl = "/api/trpc/admin.lastReconcileRun";
const usersUrl = `/api/trpc/admin.users?input=${encodeURIComponent(JSON.stringify({ json: { page: 0 } }))}`;
const startReconcileUrl = "/api/trpc/admin.startReconcile";

test("k. an admin sees Clerk vs the mirror, dead letters and a webhook chart whose points are the database's", async ({ page, emulator, db }, testInfo) => {
  // Drift on purpose: two users arrive by webhook, three are imported with no webhook, and one
  // signed delivery is malformed (a dead letter).
  await emulator.createUser({ email: "nova@example.com", firstName: "Nova", lastName: "Newcomer" });
  await emulator.createUser({ email: "otto@example.com", firstName: "Otto", lastName: "Other" });
  await emulator.sendEvent("user.updated", { id: "user_malformed", object: "user" });
  await emulator.webhooksIdle();
  const { totalCount: clerkUsers } = await emulator.createUsersInBulk(3, "imported");

  await signIn(page, "user_demo_margaret");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  // Telemetry is flushed every few seconds: wait until the table holds the webhook writes and
  // Margaret's own client sync (the console's health check flushes this instance's buffer too).
  await expect
    .poll(async () => {
      const [row] = await db.sql<[{ webhook: number; client: number }]>`
        select coalesce(sum(count) filter (where source = 'webhook'), 0)::int as webhook,
               coalesce(sum(count) filter (where source = 'client-sync'), 0)::int as client
        from user_sync_write_stats`;
      return row.webhook >= 2 && row.client >= 1;
    }, { timeout: 20_000 })
    .toBe(true);
  await expect(page.getByRole("link", { name: "Admin console" })).toBeVisible();
  await page.getByRole("link", { name: "Admin console" }).click();
  await expect(page.getByRole("heading", { name: "User sync console" })).toBeVisible();

  const [{ live }] = await db.sql<[{ live: number }]>`select count(*)::int as live from users where deleted_at is null`;
  const [{ dead }] = await db.sql<[{ dead: number }]>`select count(*)::int as dead from clerk_webhook_events where outcome = 'dead_letter'`;
  expect(dead).toBe(1);
  await expect(page.getByTestId("clerk-users")).toHaveText(String(clerkUsers));
  // Clerk's count is read once for all instances and reused: the tile says when it was read.
  await expect(page.getByTestId("clerk-users-as-of")).toHaveText(/^Clerk's own count, as of \d{2}:\d{2}:\d{2}$/);
  await expect(page.getByTestId("live-users")).toHaveText(String(live));
  await expect(page.getByTestId("discrepancy")).toHaveText(String(Math.abs(clerkUsers - live)));
  await expect(page.getByTestId("dead-letters")).toHaveText("1");
  await expect(page.getByTestId("last-webhook")).toContainText("Last delivery");
  // The plugin's health report: a dead letter is a warning, named among the problems.
  await expect(page.getByTestId("health-status")).toHaveAttribute("data-status", "warning");
  await expect(page.getByTestId("health-problems")).toContainText("dead_letters: 1");

  // Write outcomes by source per hour: every (hour, source, outcome) of user_sync_write_stats is a point.
  const writes = await db.sql<{ hour: Date; source: string; outcome: string; n: number }[]>`
    select date_trunc('hour', bucket_start) as hour, source, outcome, sum(count)::int as n from user_sync_write_stats
    where bucket_start >= date_trunc('hour', now()) - interval '23 hours' group by 1, 2, 3 order by 1, 2, 3`;
  expect(writes.some((w) => w.source === "webhook" && w.outcome === "created")).toBe(true);
  expect(writes.some((w) => w.source === "client-sync")).toBe(true);
  await expect(page.getByTestId("write-hours").locator("tbody tr")).toHaveCount(writes.length);
  for (const write of writes) {
    const row = page.locator(`[data-testid="write-hours"] tr[data-hour="${write.hour.toISOString()}"][data-source="${write.source}"][data-outcome="${write.outcome}"]`);
    await expect(row.locator("td").nth(3)).toHaveText(String(write.n));
  }
  await expect(page.getByTestId("write-chart").locator(".recharts-bar-rectangle")).toHaveCount(writes.length);

  // Self-heals (client-sync created/updated/restored) beside webhook deliveries, per hour.
  const heals = await db.sql<{ hour: Date; heals: number; deliveries: number }[]>`
    with hours as (select generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') as hour)
    select hours.hour,
      (select coalesce(sum(count), 0)::int from user_sync_write_stats s where date_trunc('hour', s.bucket_start) = hours.hour
        and s.source = 'client-sync' and s.outcome in ('created', 'updated', 'restored')) as heals,
      (select count(*)::int from clerk_webhook_events e where date_trunc('hour', e.received_at) = hours.hour) as deliveries
    from hours order by 1`;
  expect(heals.reduce((sum, h) => sum + h.heals, 0)).toBeGreaterThan(0);
  for (const hour of heals) {
    const cells = page.locator(`[data-testid="self-heal-hours"] tr[data-hour="${hour.hour.toISOString()}"] td`);
    await expect(cells.nth(1)).toHaveText(String(hour.heals));
    await expect(cells.nth(2)).toHaveText(String(hour.deliveries));
  }
  await expect(page.getByTestId("self-heal-last-hour")).toHaveText(String(heals.reduce((sum, h) => sum + h.heals, 0)));

  // Every (hour, outcome) of the last 24 h in the database is one point of the chart, with its count.
  const points = await db.sql<{ hour: Date; outcome: string; n: number }[]>`
    select date_trunc('hour', received_at) as hour, outcome, count(*)::int as n from clerk_webhook_events
    where received_at >= date_trunc('hour', now()) - interval '23 hours' group by 1, 2 order by 1, 2`;
  expect(points.length).toBeGreaterThan(1);
  const rows = page.getByTestId("webhook-hours").locator("tbody tr");
  await expect(rows).toHaveCount(points.length);
  for (const point of points) {
    const row = page.locator(`[data-testid="webhook-hours"] tr[data-hour="${point.hour.toISOString()}"][data-outcome="${point.outcome}"]`);
    await expect(row.locator("td").nth(2)).toHaveText(String(point.n));
  }
  // And drawn: one bar segment per point.
  await expect(page.getByTestId("webhook-chart").locator(".recharts-bar-rectangle")).toHaveCount(points.length);

  await testInfo.attach("console", { body: await page.screenshot({ path: testInfo.outputPath("console.png"), fullPage: true }), contentType: "image/png" });
});

test("l. the console is a 404 for a signed-out visitor and a non-admin, and its data calls are refused on the server", async ({ page, emulator: _emulator, db }) => {
  /** Every data call of the console answers `status`, and none starts a run or leaks a figure. */
  async function refusedDataCalls(status: number) {
    for (const url of [overviewUrl, lastRunUrl, usersUrl]) {
      const response = await page.request.get(url);
      expect(response.status(), url).toBe(status);
      expect(await response.text()).not.toMatch(/liveUsers|clerkTotal|user_demo/);
    }
    const start = await page.request.post(startReconcileUrl, { data: { json: { dryRun: false } } });
    expect(start.status()).toBe(status);
    const setTier = await page.request.post("/api/trpc/admin.setUserTier", { data: { json: { userId: "user_demo_ada", tier: "MAXX" } } });
    expect(setTier.status()).toBe(status);
    expect(await db.sql`select id from user_sync_reconcile_runs`).toHaveLength(0);
  }

  // Signed out.
  expect((await page.goto("/admin/sync"))?.status()).toBe(404);
  await refusedDataCalls(401);

  // Signed in, not an admin: the same 404, and no link to it.
  await page.goto("/");
  await signIn(page, "user_demo_ada");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await expect(page.getByRole("link", { name: "Admin console" })).toHaveCount(0);
  expect((await page.goto("/admin/sync"))?.status()).toBe(404);
  await refusedDataCalls(404);
  expect((await db.userRow("user_demo_ada"))?.tier).toBe("FREE");
});

/** Records every state the reconcile panel shows from now on (run id and status, or what it shows instead), frame by frame. */
async function recordPanelStates(page: Page) {
  await page.evaluate(() => {
    const states: string[] = [];
    (window as unknown as { panelStates: string[] }).panelStates = states;
    const panel = document.querySelector('[data-testid="reconcile-panel"]')!;
    const record = () => {
      const run = panel.querySelector('[data-testid="reconcile-run"]');
      const refusal = panel.querySelector('[data-testid="reconcile-refusal"]') ? " +409" : "";
      const state = run ? `${run.getAttribute("data-run-id") ?? ""}:${run.getAttribute("data-status")}` : panel.querySelector('[data-testid="reconcile-loading"]') ? "loading" : "none";
      if (states.at(-1) !== state + refusal) states.push(state + refusal);
    };
    new MutationObserver(record).observe(panel, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { panelStates: string[] }).panelStates);
}

test("m. an admin reconciles from the console: a dry run's diff, an apply whose state shows at once, live progress, a 409 that shows the run holding the lease, drift to 0; and sets a tier", async ({ page, emulator, db, request }, testInfo) => {
  // Drift: users imported into Clerk with no webhook (no rows), and a live row Clerk does not know.
  const { totalCount: clerkUsers } = await emulator.createUsersInBulk(3, "imported");
  await db.sql`insert into users (id, email, first_name, clerk_updated_at) values ('user_ghost', 'ghost@example.com', 'Ghost', 1000)`;

  await signIn(page, "user_demo_margaret");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await testInfo.attach("dashboard", { body: await page.screenshot({ path: testInfo.outputPath("dashboard.png"), fullPage: true }), contentType: "image/png" });
  await page.getByRole("link", { name: "Admin console" }).click();
  const panel = page.getByTestId("reconcile-panel");
  await expect(panel.getByTestId("reconcile-none")).toBeVisible();

  const clerkIds = (await emulator.users({ limit: 500 })).map((user) => user.id);
  expect(clerkIds).toHaveLength(clerkUsers);
  const liveIds = (await db.sql<{ id: string }[]>`select id from users where deleted_at is null`).map((row) => row.id);
  const missingIds = clerkIds.filter((id) => !liveIds.includes(id));
  expect(missingIds.length).toBeGreaterThanOrEqual(3);
  await expect(page.getByTestId("discrepancy")).toHaveText(String(clerkUsers - liveIds.length));

  // Dry run: every user with no row is listed as missing, the ghost as deleted; nothing is written.
  await panel.getByRole("button", { name: "Dry run" }).click();
  const run = panel.getByTestId("reconcile-run");
  await expect(run).toHaveAttribute("data-dry-run", "true");
  await expect(run).toHaveAttribute("data-status", "succeeded");
  const dryRunId = (await run.getAttribute("data-run-id"))!;
  await expect(panel.getByTestId("reconcile-missing-count")).toHaveText(String(missingIds.length));
  await expect(panel.getByTestId("reconcile-deleted-count")).toHaveText("1");
  await expect(panel.getByTestId("reconcile-missing").locator("li[data-user-id]")).toHaveCount(missingIds.length);
  for (const id of missingIds) await expect(panel.getByTestId("reconcile-missing").locator(`li[data-user-id="${id}"]`)).toBeVisible();
  await expect(panel.getByTestId("reconcile-deleted").locator('li[data-user-id="user_ghost"]')).toContainText("deletedAt");
  await expect(panel.getByTestId("reconcile-progress")).toHaveAttribute("aria-valuenow", "100");
  expect(await db.sql`select id from users where deleted_at is null`).toHaveLength(liveIds.length);
  const [dryRow] = await db.sql<[{ status: string; missing: number; deleted: number }]>`select status, missing, deleted from user_sync_reconcile_runs where dry_run`;
  expect(dryRow).toEqual({ status: "succeeded", missing: missingIds.length, deleted: 1 });
  await testInfo.attach("console-diff", { body: await page.screenshot({ path: testInfo.outputPath("console-diff.png"), fullPage: true }), contentType: "image/png" });

  // Apply, with Clerk's list held unanswered: the click shows the new run's state at once (never
  // the dry run again), and the run is visibly under way, holding the lease.
  await emulator.setFault({ endpoint: "getUserList", hang: true });
  let states = await recordPanelStates(page);
  await panel.getByRole("button", { name: "Apply" }).click();
  await expect(run).toHaveAttribute("data-dry-run", "false");
  await expect(run).toHaveAttribute("data-status", "running");
  const applyRunId = (await run.getAttribute("data-run-id"))!;
  expect(applyRunId).not.toBe(dryRunId);
  const afterApply = await states();
  expect(afterApply[0], afterApply.join(" → ")).toBe(":starting");
  expect(afterApply.filter((state) => state.startsWith(dryRunId)), afterApply.join(" → ")).toEqual([]);
  await expect(panel.getByTestId("reconcile-progress")).toHaveAttribute("aria-valuetext", "Reading Clerk's first page");
  // While it runs, the console offers no second start.
  await expect(panel.getByRole("button", { name: "Dry run" })).toBeDisabled();

  // The run lives in the server, not the page: leave and come back, it is still the one running.
  await page.goto("/dashboard");
  await page.goto("/admin/sync");
  await expect(run).toHaveAttribute("data-run-id", applyRunId);
  await expect(run).toHaveAttribute("data-status", "running");

  // Clerk answers again (the held call fails once and is retried): the run completes.
  await emulator.clearFaults();
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  await expect(panel.getByTestId("reconcile-progress")).toHaveAttribute("aria-valuenow", "100");
  await expect(panel.getByTestId("reconcile-missing-count")).toHaveText(String(missingIds.length));
  await expect(panel.getByTestId("reconcile-deleted-count")).toHaveText("1");
  await expect(page.getByTestId("discrepancy")).toHaveText("0");
  const [after] = await db.sql<[{ live: number; ghost: boolean }]>`
    select count(*) filter (where deleted_at is null)::int as live,
           bool_or(id = 'user_ghost' and deleted_at is not null and deleted_by = 'reconcile') as ghost
    from users`;
  expect(after).toEqual({ live: clerkUsers, ghost: true });
  const liveAfter = (await db.sql<{ id: string }[]>`select id from users where deleted_at is null order by id`).map((row) => row.id);
  expect(liveAfter).toEqual([...clerkIds].sort());
  // The figures the console showed for this drift fixture (reported in the closing note).
  console.log(
    `[admin-console] drift fixture: Clerk ${clerkUsers} users, ${liveIds.length} live rows, discrepancy ${clerkUsers - liveIds.length}; ` +
      `dry run: ${missingIds.length} missing, 0 stale, 1 deleted; after apply: ${after.live} live rows, discrepancy 0`,
  );

  // Another source (a cron on the admin API) starts a run the console has not seen: a click is
  // refused (409) at once, and the panel shows that run beside the refusal, never the finished one.
  await emulator.setFault({ endpoint: "getUserList", hang: true });
  const cron = request.post("/api/admin/user-sync/reconcile?dry_run=false", { headers: { authorization: `Bearer ${adminApiKey}` } });
  await expect.poll(async () => (await db.sql`select id from user_sync_reconcile_runs where status = 'running'`).length).toBe(1);
  const [{ id: cronRunId }] = await db.sql<[{ id: string }]>`select id from user_sync_reconcile_runs where status = 'running'`;
  states = await recordPanelStates(page);
  await panel.getByRole("button", { name: "Dry run" }).click();
  await expect(panel.getByTestId("reconcile-refusal")).toContainText(`Refused (409): Another reconciliation run holds the lock: an apply run (full) ${cronRunId}`);
  await expect(run).toHaveAttribute("data-run-id", cronRunId);
  const afterRefusal = await states();
  // Whenever the refusal was on screen, so was the run holding the lease (or the wait for it).
  for (const state of afterRefusal.filter((s) => s.endsWith("+409"))) expect([`${cronRunId}:running +409`, "loading +409"], afterRefusal.join(" → ")).toContain(state);
  await testInfo.attach("console-refusal", { body: await page.screenshot({ path: testInfo.outputPath("console-refusal.png"), fullPage: true }), contentType: "image/png" });
  await emulator.clearFaults();
  expect((await cron).status()).toBe(200);
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  await expect(panel.getByTestId("reconcile-refusal")).toHaveCount(0);

  // Tier control: the newest user's tier, changed from the table, is in the database.
  const users = page.getByTestId("users-table");
  await expect(users).toContainText(`${clerkUsers} live users`);
  const firstRow = users.locator("tbody tr").first();
  const userId = (await firstRow.getAttribute("data-user-id"))!;
  expect((await db.userRow(userId))?.tier).toBe("FREE");
  await firstRow.getByRole("combobox").selectOption("PRO");
  await expect(firstRow.getByTestId("tier-result")).toHaveText("Saved: PRO");
  expect((await db.userRow(userId))?.tier).toBe("PRO");
  await testInfo.attach("console", { body: await page.screenshot({ path: testInfo.outputPath("console-after-apply.png"), fullPage: true }), contentType: "image/png" });
  await users.getByRole("button", { name: "Next" }).click();
  await expect(users).toContainText("Page 2 of 2");
  await expect(users.locator("tbody tr")).toHaveCount(clerkUsers - 10);
});

test("n. a mass deletion the guard refused waits for the admin's explicit confirmation; an interrupted run is shown as such and resumed", async ({ page, db }, testInfo) => {
  // Fifteen live rows Clerk does not know: more than 10 and more than 2% of the live rows.
  await db.sql`insert into users (id, email, clerk_updated_at) select 'user_ghost_' || g, 'ghost' || g || '@example.com', 1000 from generate_series(1, 15) as g`;
  await signIn(page, "user_demo_margaret");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await page.goto("/admin/sync");
  const panel = page.getByTestId("reconcile-panel");
  const run = panel.getByTestId("reconcile-run");

  await panel.getByRole("button", { name: "Apply" }).click();
  await expect(run).toHaveAttribute("data-status", "refused");
  await expect(run).toHaveAttribute("data-error-code", "MASS_DELETION_REFUSED");
  await expect(panel.getByTestId("reconcile-refused")).toContainText("It would tombstone 15 users, more than the limit of 10");
  const ghosts = async () => (await db.sql<[{ n: number }]>`select count(*)::int as n from users where id like 'user_ghost_%' and deleted_at is null`)[0].n;
  expect(await ghosts()).toBe(15);
  await testInfo.attach("console-mass-deletion", { body: await page.screenshot({ path: testInfo.outputPath("console-mass-deletion.png"), fullPage: true }), contentType: "image/png" });

  // Two explicit steps; cancelling writes nothing.
  await panel.getByRole("button", { name: "Review and apply the 15 deletions" }).click();
  await panel.getByRole("button", { name: "Cancel" }).click();
  expect(await ghosts()).toBe(15);
  await panel.getByRole("button", { name: "Review and apply the 15 deletions" }).click();
  await expect(panel.getByTestId("reconcile-confirm-deletions")).toContainText("tombstone up to 15 users");
  await panel.getByRole("button", { name: "Tombstone up to 15 users" }).click();
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  await expect(panel.getByTestId("reconcile-deleted-count")).toHaveText("15");
  expect(await ghosts()).toBe(0);

  // A run whose process stopped: still `running`, its lease expired. Shown as interrupted; Apply resumes it.
  await db.sql`insert into user_sync_reconcile_runs (id, mode, dry_run, status, high_water_mark_ms, walked, clerk_total, started_at)
    values ('run_stopped', 'full', false, 'running', 0, 3, 8, now() + interval '1 second')`;
  await db.sql`insert into user_sync_reconcile_lease (name, holder, run_id, acquired_at, heartbeat_at, expires_at)
    values ('reconcile', 'a-stopped-process', 'run_stopped', now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '1 minute')`;
  await page.reload();
  await expect(run).toHaveAttribute("data-run-id", "run_stopped");
  await expect(run).toHaveAttribute("data-status", "interrupted");
  await expect(panel.getByTestId("reconcile-status")).toContainText("Interrupted: the process running it stopped");
  await panel.getByRole("button", { name: "Apply" }).click();
  await expect(run).toHaveAttribute("data-run-id", "run_stopped");
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
});

test("n. right after a bulk import and a dry run the tiles agree with \"Last reconcile\", each says when it was taken, and a username Clerk refused is no write error", async ({ page, emulator, db }, testInfo) => {
  await signIn(page, "user_demo_margaret");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  // Margaret tries a username Grace holds: Clerk refuses it (422), and the form says so.
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.waitForURL("**/profile");
  await page.getByLabel("Username").fill("grace");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("error-username")).toHaveText("That username is taken. Please try another.");

  await page.getByRole("link", { name: "Admin console" }).click();
  await expect(page.getByRole("heading", { name: "User sync console" })).toBeVisible();
  await expect(page.getByTestId("health-status")).toHaveAttribute("data-status", "healthy");
  const clerkBefore = Number(await page.getByTestId("clerk-users").textContent());

  // A bulk import in Clerk (no webhooks), then a dry run from the console.
  const { totalCount: clerkUsers } = await emulator.createUsersInBulk(1_000, "bulk");
  expect(clerkUsers).toBe(clerkBefore + 1_000);
  const panel = page.getByTestId("reconcile-panel");
  await panel.getByRole("button", { name: "Dry run" }).click();
  const run = panel.getByTestId("reconcile-run");
  await expect(run).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  const [found] = await db.sql<[{ missing: number; stale: number; deleted: number; finished_at: Date }]>`
    select missing, stale, deleted, finished_at from user_sync_reconcile_runs where dry_run and status = 'succeeded'`;
  const [{ live }] = await db.sql<[{ live: number }]>`select count(*)::int as live from users where deleted_at is null`;
  expect(found.missing).toBe(clerkUsers - live);

  // Right away, no reload: every tile tells the same story as the run.
  await expect(page.getByTestId("last-reconcile")).toHaveText(`${found.missing + found.stale + found.deleted} found`);
  await expect(page.getByTestId("clerk-users")).toHaveText(String(clerkUsers));
  await expect(page.getByTestId("live-users")).toHaveText(String(live));
  await expect(page.getByTestId("discrepancy")).toHaveText(String(clerkUsers - live));
  await expect(page.getByTestId("health-status")).toHaveAttribute("data-status", "warning");
  await expect(page.getByTestId("health-problems")).toContainText(`discrepancy: Clerk has ${clerkUsers} users`);
  // Each figure says when it was taken; Clerk's count was read after the run finished.
  await expect(page.getByTestId("figures-as-of")).toContainText(/as of \d{2}:\d{2}:\d{2}/);
  for (const tile of ["clerk-users", "live-users", "discrepancy", "dead-letters", "self-heal-last-hour", "errors-last-hour", "webhook-lag", "last-reconcile"]) {
    await expect(page.getByTestId(`${tile}-as-of`)).toHaveText(/\d{2}:\d{2}:\d{2}/);
  }
  const [{ count_read_at }] = await db.sql<[{ count_read_at: Date }]>`select read_at as count_read_at from user_sync_clerk_cache where key = 'user_count'`;
  expect(count_read_at.getTime()).toBeGreaterThanOrEqual(found.finished_at.getTime());

  // The refusal is counted as Clerk's answer, not as a failed write.
  await expect(page.getByTestId("errors-last-hour")).toHaveText("0");
  expect(await db.sql`select outcome, error_code, sum(count)::int as n from user_sync_write_stats where source = 'profile-update' group by 1, 2`).toEqual([
    { outcome: "refused", error_code: "CLERK_REJECTED", n: 1 },
  ]);
  await expect(page.locator('[data-testid="write-hours"] tr[data-source="profile-update"][data-outcome="refused"]')).toHaveCount(1);
  await testInfo.attach("console-after-bulk-dry-run", { body: await page.screenshot({ path: testInfo.outputPath("console-after-bulk-dry-run.png"), fullPage: true }), contentType: "image/png" });
});
