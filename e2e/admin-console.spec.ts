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
