import { expect, signIn, test } from "./support/fixtures";

/** tRPC's GET URL of a query with no input (superjson: `{ json: undefined }` is sent as nothing). */
const overviewUrl = "/api/trpc/admin.overview";

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

test("l. the console is a 404 for a signed-out visitor and a non-admin, and its data calls are refused on the server", async ({ page, emulator: _emulator }) => {
  // Signed out.
  expect((await page.goto("/admin/sync"))?.status()).toBe(404);
  expect((await page.request.get(overviewUrl)).status()).toBe(401);

  // Signed in, not an admin: the same 404, and no link to it.
  await page.goto("/");
  await signIn(page, "user_demo_ada");
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await expect(page.getByRole("link", { name: "Admin console" })).toHaveCount(0);
  expect((await page.goto("/admin/sync"))?.status()).toBe(404);
  const refused = await page.request.get(overviewUrl);
  expect(refused.status()).toBe(404);
  expect(await refused.text()).not.toContain("liveUsers");
});
