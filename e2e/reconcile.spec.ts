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
  // Clerk's deep offsets time out: here from 1,000 users on, fewer than the walk goes through.
  await emulator.setFidelity({ offsetTimeoutDepth: 1_000 });
  const clerkUsers = (await emulator.users()).length;

  const dry = await request.post(reconcilePath, { headers: adminHeaders });
  expect(dry.status()).toBe(200);
  const dryReport = (await dry.json()) as Report;
  expect(dryReport).toMatchObject({ dryRun: true, mode: "full", counts: { missing: clerkUsers, stale: 0, deleted: 0, unchanged: 0 }, truncated: true });
  expect((await db.sql`select count(*)::int as n from users`)[0]?.n).toBe(0);

  const applied = (await (await request.post(`${reconcilePath}?dry_run=false&mode=full`, { headers: adminHeaders })).json()) as Report;
  expect(applied.counts).toEqual({ missing: clerkUsers, stale: 0, deleted: 0, unchanged: 0 });
  // JWKS (the proof of instance), Clerk's count, then pages of 500 by cursor; no confirmation call: nothing to delete.
  expect(clerkUsers % 500).not.toBe(0);
  expect(applied.clerkRequests).toBe(2 + Math.ceil(clerkUsers / 500));
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

test("reconcile guards: another instance's Backend API is refused with nothing written; a mass deletion is refused (422) until forced", async ({ request, db, emulator }) => {
  await emulator.setWebhooks({ drop: true });
  await emulator.createUsersInBulk(600, "imported");
  const applied = await request.post(`${reconcilePath}?dry_run=false`, { headers: adminHeaders });
  expect(applied.status()).toBe(200);
  const live = async () => (await db.sql<[{ n: number }]>`select count(*)::int as n from users where deleted_at is null`)[0].n;
  const clerkUsers = (await emulator.users({ limit: 500 })).length + (await emulator.users({ limit: 500, offset: 500 })).length;
  expect(await live()).toBe(clerkUsers);

  // The secret key of another instance: the proof of instance fails before anything is read or written.
  await emulator.setInstance("other");
  const versions = await db.sql`select id, xmin::text from users order by id`;
  for (const query of ["?dry_run=false", "?dry_run=true"]) {
    const refused = await request.post(`${reconcilePath}${query}`, { headers: adminHeaders });
    expect(refused.status()).toBe(502);
    expect(await refused.json()).toMatchObject({ error: "clerk_instance_mismatch" });
  }
  expect(await db.sql`select id, xmin::text from users order by id`).toEqual(versions);
  await emulator.setInstance("self");

  // 30 users deleted in Clerk with their webhooks lost: more than 10 and more than 2% of the live rows.
  const victims = (await emulator.users({ limit: 30, offset: 100 })).map((user) => user.id);
  for (const id of victims) await emulator.deleteUser(id);
  const massive = await request.post(`${reconcilePath}?dry_run=false`, { headers: adminHeaders });
  expect(massive.status()).toBe(422);
  expect(await massive.json()).toMatchObject({ error: "mass_deletion_refused", wouldDelete: 30, limit: Math.max(10, Math.floor(clerkUsers * 0.02)) });
  expect(await live()).toBe(clerkUsers);

  const forced = (await (await request.post(`${reconcilePath}?dry_run=false&force=true`, { headers: adminHeaders })).json()) as Report;
  expect(forced.counts).toMatchObject({ deleted: 30 });
  expect(await live()).toBe(clerkUsers - 30);
  const [tombstone] = await db.sql`select email, deleted_by from users where id = ${victims[0]!}`;
  expect(tombstone).toEqual({ email: null, deleted_by: "reconcile" });
});
