/**
 * Reconciliation's guards, each a finding of issue 17 that wiped or damaged the mirror before:
 * the proof of instance (another instance's Backend API), conclusive confirmations (a short
 * confirmation page), the mass-deletion guard; through `runReconcile` and the CLI, on the real
 * PostgreSQL server with Clerk's Backend API on msw (over HTTP for the CLI).
 */
import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkUserDirectory, mintSessionToken, testUsers as users } from "../../testing";
import { integrationHarness } from "../test-database";
import { person, reconcileFixtures, spawnReconcileCli } from "./test-fixtures";

import { userSyncClerkSessionKeys } from "../schema";
import { createUserSyncService } from "../sync";
import { createSessionKeyRecorder, ReconcileRefusedError, type ReconcileReport } from "./index";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile_guards", server, { reset: () => directory.reset() });
const { reconcile, mirror, mirrorMany, rowVersions, liveIds, runRows } = reconcileFixtures(testDb);

/** `count` users in Clerk and, identical, in the mirror. */
async function inClerkAndMirror(count: number) {
  for (let i = 0; i < count; i++) {
    const p = person(`user_${String(i).padStart(2, "0")}`, 1_000);
    directory.add(p);
    await mirror(p);
  }
}

const refusalOf = (error: unknown) => {
  expect(error).toBeInstanceOf(ReconcileRefusedError);
  return error as ReconcileRefusedError;
};

describe("proof of instance, fresh for every run", () => {
  async function seedMirror() {
    await inClerkAndMirror(12);
    // Drift a correct run would repair: a missing row and a stale one.
    directory.add(person("user_new", 2_000));
    directory.update("user_03", { lastName: "Renamed", updatedAtMs: 3_000 });
  }

  it("another instance's Backend API: apply and dry run are refused as a whole and write no user row", async () => {
    await seedMirror();
    const before = await rowVersions();
    directory.setInstance("other");

    for (const dryRun of [false, true]) {
      const refusal = refusalOf(await reconcile({ dryRun }).catch((error: unknown) => error));
      expect(refusal.code).toBe("CLERK_INSTANCE_MISMATCH");
      expect(refusal.message).toMatch(/CLERK_SECRET_KEY \(or CLERK_API_URL\) belongs to another Clerk instance/);
      expect(refusal.report).toMatchObject({ status: "refused", dryRun, counts: { missing: 0, stale: 0, deleted: 0, unchanged: 0 } });
    }
    expect(await rowVersions()).toEqual(before);
    expect(await liveIds()).toHaveLength(12);
    // It asked for nothing but the keys: no page of another instance's users was read.
    expect(directory.requests.map((r) => r.endpoint)).toEqual(["jwks", "jwks"]);
    expect(await runRows()).toEqual([
      expect.objectContaining({ status: "refused", error_code: "CLERK_INSTANCE_MISMATCH" }),
      expect.objectContaining({ status: "refused", error_code: "CLERK_INSTANCE_MISMATCH" }),
    ]);

    // The right key again: the next run proves it afresh and repairs.
    directory.setInstance("this");
    const repaired = await reconcile({ dryRun: false });
    expect(repaired).toMatchObject({ instanceKeyId: "ins_test", counts: { missing: 1, stale: 1, deleted: 0, unchanged: 11 } });
    // And a switch after a good run is caught by the next one: the proof is never cached.
    directory.setInstance("other");
    expect(refusalOf(await reconcile({ dryRun: false }).catch((error: unknown) => error)).code).toBe("CLERK_INSTANCE_MISMATCH");
  });

  it("without CLERK_INSTANCE_ID a run is refused until user.sync has verified a session; then that session's key proves the instance", async () => {
    await seedMirror();
    const before = await rowVersions();
    const unproven = refusalOf(await reconcile({ dryRun: false, instanceId: undefined }).catch((error: unknown) => error));
    expect(unproven.code).toBe("CLERK_INSTANCE_UNPROVEN");
    expect(unproven.message).toMatch(/set CLERK_INSTANCE_ID/);
    expect(await rowVersions()).toEqual(before);

    // A user signs in: user.sync records the signing key id of the verified session.
    const sync = createUserSyncService({
      db: () => Promise.resolve(testDb.db),
      users,
      clerk: { secretKey: "sk_live_vitest", apiUrl: clerkApiUrl() },
      cooldownSeconds: 0,
      onSessionKey: createSessionKeyRecorder({ db: () => Promise.resolve(testDb.db), table: userSyncClerkSessionKeys }),
    });
    await sync.syncUser("user_00", { sessionToken: mintSessionToken({ userId: "user_00" }) });
    expect(await testDb.client`select key_id from user_sync_clerk_session_keys`).toEqual([{ key_id: "ins_test" }]);

    const proven = await reconcile({ dryRun: false, instanceId: undefined });
    expect(proven).toMatchObject({ instanceKeyId: "ins_test", counts: { missing: 1, stale: 1 } });
    directory.setInstance("other");
    expect(refusalOf(await reconcile({ dryRun: true, instanceId: undefined }).catch((error: unknown) => error)).code).toBe("CLERK_INSTANCE_MISMATCH");
  });
});

describe("conclusive confirmations only", () => {
  /**
   * Three users live in Clerk and in the mirror whom the walk does not list (Clerk shows them
   * late, created "before" the walk's position), and one row Clerk really deleted: all four are
   * asked of Clerk by user_id.
   */
  async function seedUnlisted() {
    await inClerkAndMirror(10);
    const late = ["user_late_a", "user_late_b", "user_late_c"].map((id) => person(id, 1_000));
    for (const p of late) await mirror(p);
    await mirror(person("user_gone", 1_000));
    directory.onListPage((page) => {
      if (page.userIds.length || page.startingAfter !== null) return;
      for (const p of late) if (!directory.users.has(p.id)) directory.add({ ...p, createdAtMs: 1 });
    });
    return late.map((p) => p.id);
  }

  it("a filtered page shorter than Clerk's own count tombstones no live user: each missing id is asked alone, only a 404 counts", async () => {
    const late = await seedUnlisted();
    // Clerk's user_id-filtered page leaves a user out while its count says three exist.
    directory.setShortFilteredPages(1);
    const report = await reconcile({ dryRun: false });
    expect(report).toMatchObject({ counts: { deleted: 1 }, unconfirmed: 0, wouldDelete: 1 });
    expect(report.changes.filter((c) => c.kind === "deleted")).toEqual([{ userId: "user_gone", kind: "deleted", fields: ["deletedAt"] }]);
    const live = await liveIds();
    for (const id of late) expect(live).toContain(id);
    expect(live).not.toContain("user_gone");
    // The short page was followed by one GET per id it did not list: the left-out user and the gone one.
    expect(directory.requests.filter((r) => r.endpoint === "get").map((r) => r.status).sort()).toEqual([200, 404]);
  });

  it("a user Clerk answers nothing conclusive about is unconfirmed: reported, never tombstoned, asked again by the next run", async () => {
    await seedUnlisted();
    directory.setShortFilteredPages(1);
    directory.setGetFault(503);
    const report = await reconcile({ dryRun: false });
    // The left-out user and the gone one: neither listed nor answered for.
    expect(report).toMatchObject({ counts: { deleted: 0 }, unconfirmed: 2, wouldDelete: 0 });
    expect(await liveIds()).toContain("user_gone");
    expect((await runRows()).at(-1)).toMatchObject({ status: "succeeded", unconfirmed: 2 });

    directory.setShortFilteredPages(0);
    directory.setGetFault(null);
    directory.onListPage(null);
    const next = await reconcile({ dryRun: false });
    expect(next).toMatchObject({ counts: { deleted: 1 }, unconfirmed: 0 });
    expect(await liveIds()).not.toContain("user_gone");
  });
});

describe("the mass-deletion guard", () => {
  /** 100 live rows, 20 of them gone from Clerk; one user missing and one stale. */
  async function seedMassDeletion() {
    const ids = Array.from({ length: 100 }, (_, i) => `user_${String(i).padStart(3, "0")}`);
    await mirrorMany(ids);
    for (const id of ids.slice(20)) directory.add(person(id, 1_000));
    directory.add(person("user_new", 2_000));
    directory.update("user_050", { lastName: "Renamed", updatedAtMs: 2_000 });
    return ids.slice(0, 20);
  }

  it("refuses an apply over the limit: creates and updates applied, no tombstone; force applies them", async () => {
    const gone = await seedMassDeletion();
    const refusal = refusalOf(await reconcile({ dryRun: false }).catch((error: unknown) => error));
    expect(refusal.code).toBe("MASS_DELETION_REFUSED");
    // The default guard: more than 10 and more than 2% of the 101 live rows.
    expect(refusal.report).toMatchObject<Partial<ReconcileReport>>({
      status: "refused",
      wouldDelete: 20,
      deletionLimit: 10,
      liveRows: 101,
      counts: { missing: 1, stale: 1, deleted: 0, unchanged: 79 },
    });
    const live = await liveIds();
    for (const id of gone) expect(live).toContain(id);
    expect(live).toContain("user_new");
    expect((await testDb.client`select last_name from users where id = 'user_050'`)[0]?.last_name).toBe("Renamed");

    // An allowance lower than the deletion is refused again; the confirmed count, or force, applies.
    expect(refusalOf(await reconcile({ dryRun: false, allowDeletionsUpTo: 19 }).catch((error: unknown) => error)).code).toBe("MASS_DELETION_REFUSED");
    const forced = await reconcile({ dryRun: false, force: true });
    expect(forced).toMatchObject({ status: "succeeded", wouldDelete: 20, counts: { deleted: 20 } });
    expect(await liveIds()).toEqual([...directory.users.keys()].sort());
  });

  it("a dry run reports the deletions and the limit without refusing; an allowance of the confirmed count applies them", async () => {
    await seedMassDeletion();
    const dry = await reconcile({ dryRun: true });
    expect(dry).toMatchObject({ status: "succeeded", wouldDelete: 20, deletionLimit: 10, counts: { deleted: 20 } });
    const confirmed = await reconcile({ dryRun: false, allowDeletionsUpTo: 20 });
    expect(confirmed.counts.deleted).toBe(20);
  });

  it("USER_SYNC_RECONCILE_MAX_DELETIONS sets the limit; under 2% of a large mirror is allowed by default", async () => {
    await seedMassDeletion();
    expect((await reconcile({ dryRun: false, maxDeletions: 20 })).counts.deleted).toBe(20);

    await testDb.truncate();
    directory.reset();
    const ids = Array.from({ length: 1_000 }, (_, i) => `user_${String(i).padStart(4, "0")}`);
    await mirrorMany(ids);
    for (const id of ids.slice(15)) directory.add(person(id, 1_000));
    // 15 of 1,000: more than 10 but not more than 2%.
    expect(await reconcile({ dryRun: false })).toMatchObject({ deletionLimit: 20, counts: { deleted: 15 } });
  });
});

describe("the CLI's refusals and exit codes", () => {
  it("exit 4 when the Backend API is another instance (nothing written), 5 for a refused mass deletion, 0 with --force", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `user_${String(i).padStart(2, "0")}`);
    await mirrorMany(ids);
    for (const id of ids.slice(15)) directory.add(person(id, 1_000));
    const http = await directory.listen();
    try {
      directory.setInstance("other");
      const before = await rowVersions();
      const other = spawnReconcileCli(["--apply"], { databaseUrl: testDb.url, clerkUrl: http.url });
      expect(await other.exited).toBe(4);
      expect(other.output().stderr).toMatch(/refused \(CLERK_INSTANCE_MISMATCH\)/);
      expect(await rowVersions()).toEqual(before);

      directory.setInstance("this");
      const massive = spawnReconcileCli(["--apply", "--json"], { databaseUrl: testDb.url, clerkUrl: http.url });
      expect(await massive.exited).toBe(5);
      expect(JSON.parse(massive.output().stdout)).toMatchObject({ error: "MASS_DELETION_REFUSED", wouldDelete: 15, deletionLimit: 10 });
      expect(await liveIds()).toHaveLength(30);

      const forced = spawnReconcileCli(["--apply", "--force"], { databaseUrl: testDb.url, clerkUrl: http.url });
      expect(await forced.exited).toBe(0);
      expect(await liveIds()).toEqual(ids.slice(15));

      const badFlag = spawnReconcileCli(["--dry-run", "--force"], { databaseUrl: testDb.url, clerkUrl: http.url });
      expect(await badFlag.exited).toBe(2);
    } finally {
      await http.close();
    }
  }, 90_000);
});
