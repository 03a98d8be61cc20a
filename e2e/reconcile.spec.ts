import { expect, test } from "./support/fixtures";
import { adminApiKey } from "./support/settings";

const reconcilePath = "/api/admin/user-sync/reconcile";
const adminHeaders = { authorization: `Bearer ${adminApiKey}` };

type Report = {
  runId: string;
  dryRun: boolean;
  mode: string;
  counts: { missing: number; stale: number; deleted: number; unchanged: number };
  changes: { userId: string; kind: string; fields: string[] }[];
  truncated: boolean;
  clerkRequests: number;
};

test("reconcile: users who never signed in are backfilled, a deletion whose webhook was lost is tombstoned, a second run changes nothing", async ({
  request,
  db,
  emulator,
}) => {
  // Users imported into Clerk (no webhooks) and every webhook lost: only reconciliation can heal.
  await emulator.setWebhooks({ drop: true });
  await emulator.createUsersInBulk(1_200, "imported");
  const clerkUsers = (await emulator.users()).length;

  const dry = await request.post(reconcilePath, { headers: adminHeaders });
  expect(dry.status()).toBe(200);
  const dryReport = (await dry.json()) as Report;
  expect(dryReport).toMatchObject({ dryRun: true, mode: "full", counts: { missing: clerkUsers, stale: 0, deleted: 0, unchanged: 0 }, truncated: true });
  expect((await db.sql`select count(*)::int as n from users`)[0]?.n).toBe(0);

  const applied = (await (await request.post(`${reconcilePath}?dry_run=false&mode=full`, { headers: adminHeaders })).json()) as Report;
  expect(applied.counts).toEqual({ missing: clerkUsers, stale: 0, deleted: 0, unchanged: 0 });
  // Three pages of 500 (each with its count request); no confirmation call: nothing to delete.
  expect(applied.clerkRequests).toBe(2 * Math.ceil(clerkUsers / 500));
  expect((await db.sql`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe(clerkUsers);

  // Deleted in Clerk while signed out, its webhook lost.
  const [victim] = await emulator.users({ limit: 1, offset: 7 });
  await emulator.deleteUser(victim!.id);
  const repaired = (await (await request.post(`${reconcilePath}?dry_run=false`, { headers: adminHeaders })).json()) as Report;
  expect(repaired.counts).toEqual({ missing: 0, stale: 0, deleted: 1, unchanged: clerkUsers - 1 });
  expect(repaired.changes).toEqual([{ userId: victim!.id, kind: "deleted", fields: ["deletedAt"] }]);
  const [row] = await db.sql`select email, deleted_at is not null as deleted, deleted_by from users where id = ${victim!.id}`;
  expect(row).toEqual({ email: null, deleted: true, deleted_by: "reconcile" });

  const again = (await (await request.post(`${reconcilePath}?dry_run=false`, { headers: adminHeaders })).json()) as Report;
  expect(again.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: clerkUsers - 1 });

  // (Clerk's own count in the health view is cached for a minute: not asserted here.)
  const health = (await (await request.get("/api/admin/user-sync/health", { headers: adminHeaders })).json()) as Record<string, unknown>;
  expect(health).toMatchObject({ liveUsers: clerkUsers - 1, tombstones: 1, lastReconcile: { runId: again.runId, dryRun: false } });
});
