import { expect, signIn, syncStatus, test } from "./support/fixtures";
import { adminApiKey } from "./support/settings";

const healthPath = "/api/admin/user-sync/health";
const adminHeaders = { authorization: `Bearer ${adminApiKey}` };

test("operations: with webhooks lost, a first sign-in heals the mirror, and the admin health view counts it from PostgreSQL", async ({ page, request, db, emulator }) => {
  test.setTimeout(150_000);
  // Lost webhooks: the client sync is the only writer, so its write is a self-heal.
  await emulator.setWebhooks({ drop: true });
  // Earlier journeys' counts still buffered in the server (up to one flush interval) are flushed, then cleared.
  expect((await request.get(healthPath, { headers: adminHeaders })).status()).toBe(200);
  await db.sql`truncate user_sync_write_stats`;

  await signIn(page, "user_demo_ada");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");

  // The e2e server asks Clerk for its count on every check (USER_SYNC_CLERK_COUNT_CACHE_SECONDS=0);
  // the retry covers telemetry still buffered in the server.
  let health = {} as Record<string, unknown> & { outcomesLastDay: Record<string, Record<string, number>> };
  await expect(async () => {
    const response = await request.get(healthPath, { headers: adminHeaders });
    expect(response.status()).toBe(200);
    expect(response.headers()["cache-control"]).toBe("no-store");
    health = (await response.json()) as Record<string, unknown> & { outcomesLastDay: Record<string, Record<string, number>> };
    // Clerk (the emulator) holds its demo users; only Ada signed in.
    const clerkUsers = (await emulator.users({ limit: 500 })).length;
    expect(clerkUsers).toBeGreaterThan(1);
    expect(health).toMatchObject({
      clerkUsers,
      liveUsers: 1,
      tombstones: 0,
      discrepancy: clerkUsers - 1,
      lastWebhookAt: null,
      selfHealLastHour: 1,
      selfHealLastDay: 1,
      errorsLastHour: 0,
      deadLetters: 0,
      configOk: true,
    });
  }).toPass({ timeout: 75_000, intervals: [1_000, 5_000] });
  expect(health.outcomesLastDay["client-sync"]).toEqual({ created: 1 });
  const stats = await db.sql<{ source: string; outcome: string; count: string }[]>`
    select source, outcome, count::text from user_sync_write_stats where source = 'client-sync'`;
  expect(stats).toEqual([{ source: "client-sync", outcome: "created", count: "1" }]);
});

test("operations: the admin API refuses a signed-in user's session, a wrong key and no key", async ({ page, request }) => {
  await signIn(page, "user_demo_grace");
  await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
  // The browser's own request carries Grace's Clerk session cookies.
  const asGrace = await page.request.get(healthPath);
  expect(asGrace.status()).toBe(401);
  expect(await asGrace.json()).toEqual({ error: "unauthorized" });
  for (const headers of [{}, { authorization: `Bearer ${adminApiKey.slice(0, -1)}x` }, { authorization: "Bearer" }] as Record<string, string>[]) {
    const response = await request.get(healthPath, { headers });
    expect(response.status()).toBe(401);
  }
  expect((await request.post("/api/admin/user-sync/reconcile", { headers: { authorization: "Bearer nope" } })).status()).toBe(401);
});
