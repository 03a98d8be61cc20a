/**
 * Reconciliation's guarantees against the real PostgreSQL server, with Clerk's Backend API
 * served by msw (or over real HTTP for the CLI in another process): the dry-run diff, an
 * idempotent apply, checkpoints, Clerk's limits shared with live syncs, single flight across
 * processes, resume after a kill, PGlite.
 */
import path from "node:path";

import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkUserDirectory, type DirectoryRequest, mintSessionToken, testUsers as users } from "../../testing";
import { integrationHarness } from "../test-database";
import { afterLeaseExpiry, holdListAfterPages, person, reconcileFixtures, spawnReconcileCli, waitFor } from "./test-fixtures";

import { createPostgresClerkBudget, type ClerkBudget } from "../clerk/budget";
import { createUserSyncService } from "../sync";
import { type UserSyncEvent } from "../events";
import { ReconcileClerkError, ReconcileLockedError, type ReconcileChange } from "./index";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile", server, { reset: () => directory.reset() });
const { reconcile, mirror, rowVersions, mirrorState, liveIds, expectSameAsUninterrupted } = reconcileFixtures(testDb);

const byUser = (changes: ReconcileChange[]) => [...changes].sort((a, b) => a.userId.localeCompare(b.userId));

describe("drift fixture: missing, stale, deleted, never in Clerk, unchanged", () => {
  const allFields = ["email", "phoneNumber", "firstName", "lastName", "username", "imageUrl", "banned", "locked", "clerkUpdatedAt"];

  async function seedDrift() {
    // M: in Clerk only.
    for (const id of ["user_m1", "user_m2", "user_m3"]) directory.add(person(id, 5_000));
    // S: a mirrored field differs (and Clerk's clock is ahead) …
    for (const id of ["user_s1", "user_s2"]) {
      await mirror(person(id, 1_000));
      directory.add(person(id, 2_000, { lastName: `Renamed ${id}` }));
    }
    // … or only the clock is behind.
    for (const id of ["user_c1", "user_c2"]) {
      await mirror(person(id, 1_000));
      directory.add(person(id, 3_000));
    }
    // D: deleted in Clerk, live in the mirror; X: rows Clerk never had.
    for (const id of ["user_d1", "user_d2", "user_x1", "user_x2"]) await mirror(person(id, 1_000));
    // U: identical.
    for (const id of ["user_u1", "user_u2", "user_u3"]) {
      await mirror(person(id, 4_000));
      directory.add(person(id, 4_000));
    }
    // Also unchanged: a row ahead of Clerk's list (a webhook applied a newer state) is not
    // overwritten, and a tombstone is never resurrected, even when Clerk lists the user.
    await mirror(person("user_a1", 9_000, { lastName: "Newer" }));
    directory.add(person("user_a1", 4_000));
    await testDb.client`insert into users (id, clerk_updated_at, deleted_at, deleted_by) values ('user_t1', 900, now(), 'webhook')`;
    directory.add(person("user_t1", 4_000));
    // A tombstone written on a Backend API 404 is lifted when Clerk lists the user, newer.
    await testDb.client`insert into users (id, clerk_updated_at, deleted_at, deleted_by) values ('user_r1', 900, now(), 'client-sync')`;
    directory.add(person("user_r1", 4_000));
    // App-owned columns are never touched; a tombstone Clerk does not list is left alone.
    await testDb.client`update users set tier = 'PRO' where id in ('user_s1', 'user_d1', 'user_u1')`;
    await testDb.client`insert into users (id, clerk_updated_at, deleted_at) values ('user_gone', 900, now())`;
  }

  const expectedChanges: ReconcileChange[] = [
    { userId: "user_c1", kind: "stale", fields: ["clerkUpdatedAt"] },
    { userId: "user_c2", kind: "stale", fields: ["clerkUpdatedAt"] },
    { userId: "user_d1", kind: "deleted", fields: ["deletedAt"] },
    { userId: "user_d2", kind: "deleted", fields: ["deletedAt"] },
    { userId: "user_m1", kind: "missing", fields: allFields },
    { userId: "user_m2", kind: "missing", fields: allFields },
    { userId: "user_m3", kind: "missing", fields: allFields },
    { userId: "user_r1", kind: "stale", fields: ["email", "firstName", "lastName", "imageUrl", "clerkUpdatedAt", "deletedAt"] },
    { userId: "user_s1", kind: "stale", fields: ["lastName", "clerkUpdatedAt"] },
    { userId: "user_s2", kind: "stale", fields: ["lastName", "clerkUpdatedAt"] },
    { userId: "user_x1", kind: "deleted", fields: ["deletedAt"] },
    { userId: "user_x2", kind: "deleted", fields: ["deletedAt"] },
  ];

  it("dry run reports exactly those sets with the differing fields and writes no user row", async () => {
    await seedDrift();
    const before = await rowVersions();
    const report = await reconcile({ dryRun: true, mode: "full" });
    expect(report).toMatchObject({ dryRun: true, mode: "full", truncated: false, malformed: 0 });
    expect(report.counts).toEqual({ missing: 3, stale: 5, deleted: 4, unchanged: 5 });
    expect(byUser(report.changes)).toEqual(expectedChanges);
    expect(await rowVersions()).toEqual(before);
    // JWKS (the instance proof), Clerk's count, one short page, and one confirmation of the 4
    // candidates (the filtered page and its count).
    expect(report.clerkRequests).toBe(5);
    expect(directory.requests.filter((r) => r.endpoint === "list" && r.userIds > 0)).toEqual([
      expect.objectContaining({ userIds: 4 }),
    ]);
  });

  it("apply repairs them; a dry run then finds nothing and a second apply writes nothing", async () => {
    await seedDrift();
    const applied = await reconcile({ dryRun: false });
    expect(applied.counts).toEqual({ missing: 3, stale: 5, deleted: 4, unchanged: 5 });
    expect(byUser(applied.changes)).toEqual(expectedChanges);

    const state = await mirrorState();
    const row = (id: string) => state.find((r) => r.id === id);
    expect(row("user_m1")).toMatchObject({ email: "user_m1@example.com", clerk_updated_at: "5000", deleted: false, tier: "FREE" });
    expect(row("user_s1")).toMatchObject({ last_name: "Renamed user_s1", clerk_updated_at: "2000", tier: "PRO" });
    expect(row("user_c1")).toMatchObject({ last_name: "Last user_c1", clerk_updated_at: "3000" });
    for (const id of ["user_d1", "user_d2", "user_x1", "user_x2"]) {
      expect(row(id)).toMatchObject({ deleted: true, email: null, first_name: null, last_name: null });
    }
    expect(row("user_d1")?.tier).toBe("PRO");
    const provenance = await testDb.client`
      select id, deleted_by, last_sync_outcome, clerk_fetched_at is not null as fetched from users
      where id in ('user_d1', 'user_x1', 'user_m1', 'user_s1', 'user_c1', 'user_r1', 'user_u1') order by id`;
    expect(provenance).toEqual([
      { id: "user_c1", deleted_by: null, last_sync_outcome: "touched", fetched: true },
      { id: "user_d1", deleted_by: "reconcile", last_sync_outcome: "deleted", fetched: false },
      { id: "user_m1", deleted_by: null, last_sync_outcome: "created", fetched: true },
      { id: "user_r1", deleted_by: null, last_sync_outcome: "restored", fetched: true },
      { id: "user_s1", deleted_by: null, last_sync_outcome: "updated", fetched: true },
      // Unchanged rows are not written at all (not even the fetch time).
      { id: "user_u1", deleted_by: null, last_sync_outcome: "created", fetched: false },
      { id: "user_x1", deleted_by: "reconcile", last_sync_outcome: "deleted", fetched: false },
    ]);
    expect(row("user_a1")).toMatchObject({ last_name: "Newer", clerk_updated_at: "9000" });
    expect(row("user_t1")).toMatchObject({ deleted: true, email: null });
    expect(row("user_r1")).toMatchObject({ deleted: false, email: "user_r1@example.com", clerk_updated_at: "4000" });
    expect(await liveIds()).toEqual([...directory.users.keys()].filter((id) => id !== "user_t1").sort());

    const afterApply = await rowVersions();
    const dry = await reconcile({ dryRun: true });
    expect(dry.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 13 });
    expect(dry.changes).toEqual([]);
    const again = await reconcile({ dryRun: false });
    expect(again.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 13 });
    expect(await rowVersions()).toEqual(afterApply);
  });

  it("writes awkward values exactly: quotes, backslashes, braces, commas, NULL-like text, empty strings, nulls", async () => {
    const awkward = [
      person("user_q1", 1_000, { firstName: 'Robert "Bobby"', lastName: "O'Brien, {Jr.}", username: "back\\slash" }),
      person("user_q2", 1_000, { firstName: "NULL", lastName: "", email: null }),
      person("user_q3", 1_000, { firstName: "Zoë 🙂", lastName: " spaced ", username: "a\\\"b" }),
    ];
    for (const p of awkward) directory.add(p);
    await reconcile({ dryRun: false });
    const rows = await testDb.client`select id, email, first_name, last_name, username from users order by id`;
    expect(rows).toEqual(
      awkward.map((p) => ({ id: p.id, email: p.email ?? null, first_name: p.firstName, last_name: p.lastName, username: p.username ?? null })),
    );
    const before = await rowVersions();
    expect((await reconcile({ dryRun: false })).counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 3 });
    expect(await rowVersions()).toEqual(before);
  });

  it("caps the listed changes and says so", async () => {
    await seedDrift();
    const report = await reconcile({ dryRun: true, maxChanges: 4 });
    expect(report.changes).toHaveLength(4);
    expect(report.truncated).toBe(true);
    expect(report.counts).toEqual({ missing: 3, stale: 5, deleted: 4, unchanged: 5 });
  });
});

describe("concurrent writers", () => {
  it("a newer write committed while the batch waits for the row wins; the batch counts it unchanged", async () => {
    await mirror(person("user_w1", 1_000));
    directory.add(person("user_w1", 2_000, { lastName: "From the list" }));
    const webhook = await testDb.client.reserve();
    const events: UserSyncEvent[] = [];
    try {
      await webhook`begin`;
      await webhook`update users set last_name = 'From a webhook', clerk_updated_at = 3000 where id = 'user_w1'`;
      const running = reconcile({ dryRun: false, onEvent: (e) => events.push(e) });
      // The batch read the old row (clock 1000) and now waits for the webhook's row lock.
      for (let waited = 0; ; waited += 20) {
        const [blocked] = await testDb.client`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`;
        if (blocked?.n) break;
        if (waited > 10_000) throw new Error("the batch never waited for the row lock");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await webhook`commit`;
      const report = await running;
      expect(report.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 1 });
      expect(events).toEqual([expect.objectContaining({ source: "reconcile", outcome: "stale" })]);
    } finally {
      webhook.release();
    }
    const [row] = await testDb.client`select last_name, clerk_updated_at::text from users where id = 'user_w1'`;
    expect(row).toEqual({ last_name: "From a webhook", clerk_updated_at: "3000" });
  });
});

describe("a walk while Clerk changes", () => {
  it("the cursor walk skips no one when users are deleted and created between pages; only a real deletion is tombstoned; the next run converges", async () => {
    for (let i = 0; i < 30; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
    await reconcile({ dryRun: false });
    expect(await liveIds()).toHaveLength(30);

    const servedByWalk = new Set<string>();
    let pages = 0;
    directory.onListPage((page) => {
      if (page.userIds.length) return;
      pages += 1;
      for (const id of page.served) servedByWalk.add(id);
      if (pages === 1) {
        // Between pages 1 and 2: three users already walked are deleted (an offset walk would
        // skip three), and two sign up.
        for (const id of page.served.slice(0, 3)) directory.remove(id);
        directory.add(person("user_new_a", 2_000));
        directory.add(person("user_new_b", 2_000));
      }
      if (pages === 3) {
        // A user not walked yet is deleted for real.
        directory.remove("user_29");
      }
    });
    const report = await reconcile({ dryRun: false, pageSize: 5 });

    const inClerk = [...directory.users.keys()].sort();
    // Every user in Clerk was on a page of the walk, the two new ones at its end.
    expect(inClerk.filter((id) => !servedByWalk.has(id))).toEqual([]);
    const live = new Set(await liveIds());
    for (const id of inClerk) expect(live.has(id), `${id} is live in Clerk`).toBe(true);
    expect(live.has("user_29")).toBe(false);
    expect(report.counts.missing).toBe(2);
    expect(report.counts.deleted).toBe(1);
    // Never an offset: the cursor, in created_at order.
    expect(directory.requests.filter((r) => r.endpoint === "list" && r.offset > 0)).toEqual([]);

    directory.onListPage(null);
    // The three deleted after the walk passed them were seen alive: the next run tombstones them.
    const next = await reconcile({ dryRun: false, pageSize: 5 });
    expect(next.counts.deleted).toBe(3);
    expect(await liveIds()).toEqual(inClerk);
    expect((await reconcile({ dryRun: true, pageSize: 5 })).changes).toEqual([]);
  });
});

describe("checkpoints", () => {
  it("an interrupted apply run keeps its checkpoint through a dry run and an incremental run; the next full apply resumes it", async () => {
    for (let i = 0; i < 30; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
    const controller = new AbortController();
    const interrupted = await reconcile({
      dryRun: false,
      pageSize: 5,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.walked >= 10) controller.abort();
      },
    }).catch((error: unknown) => error);
    expect(interrupted).toBeInstanceOf(Error);
    const [run] = await testDb.client<{ id: string }[]>`select id, status, error_code, walk_cursor from user_sync_reconcile_runs`;
    // The checkpoint is the cursor: the last user of the last committed page.
    expect(run).toMatchObject({ status: "failed", error_code: "ABORTED", walk_cursor: "user_09" });
    expect(await liveIds()).toHaveLength(10);

    const dry = await reconcile({ dryRun: true, pageSize: 5 });
    expect(dry).toMatchObject({ resumed: false, counts: { missing: 20, stale: 0, deleted: 0, unchanged: 10 } });
    const incremental = await reconcile({ dryRun: false, mode: "incremental", pageSize: 5 });
    expect(incremental.resumed).toBe(false);
    expect(incremental.runId).not.toBe(run!.id);

    directory.requests.length = 0;
    const resumed = await reconcile({ dryRun: false, pageSize: 5 });
    expect(resumed).toMatchObject({ runId: run!.id, resumed: true });
    // It went on from the cursor: the pages after user_09 only (four, an empty one and its check).
    const pagesRead = directory.requests.filter((r) => r.endpoint === "list");
    expect(pagesRead[0]?.startingAfter).toBe("user_09");
    expect(pagesRead.filter((r) => r.startingAfter !== null && r.startingAfter < "user_09")).toEqual([]);
    expect(pagesRead).toHaveLength(6);
    expect(await liveIds()).toHaveLength(30);
  });
});

describe("a Clerk that stops answering", () => {
  it("fails the run after bounded retries, keeps its checkpoint and releases the lease; the next run resumes", async () => {
    for (let i = 0; i < 12; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
    let pages = 0;
    let release = () => undefined as void;
    directory.onListPage(() => {
      if (++pages === 1) release = directory.hold();
    });
    // Five attempts of the held page, each aborted after 100 ms, with backoff between them (0.5 s … 4 s).
    const failed = await reconcile({ dryRun: false, pageSize: 5, clerkTimeoutMs: 100 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ReconcileClerkError);
    const [run] = await testDb.client<{ id: string }[]>`select id, status, error_code, walk_cursor from user_sync_reconcile_runs`;
    expect(run).toMatchObject({ status: "failed", error_code: "CLERK_TIMEOUT", walk_cursor: "user_04" });

    directory.onListPage(null);
    release();
    const resumed = await reconcile({ dryRun: false, pageSize: 5 });
    expect(resumed).toMatchObject({ runId: run!.id, resumed: true, counts: { missing: 12, stale: 0, deleted: 0, unchanged: 0 } });
  }, 60_000);
});

describe("incremental mode", () => {
  it("reads only users updated since the last run (plus the overlap), repairs them and never deletes", async () => {
    const base = Date.now() - 60_000;
    for (let i = 0; i < 30; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, base + i));
    await reconcile({ dryRun: false, mode: "full" });

    directory.update("user_03", { lastName: "Changed", updatedAtMs: Date.now() + 1_000 });
    directory.add(person("user_late", Date.now() + 2_000));
    directory.remove("user_10");
    directory.requests.length = 0;
    const report = await reconcile({ dryRun: false, mode: "incremental", pageSize: 5, incrementalOverlapMs: 0 });
    expect(report.counts).toEqual({ missing: 1, stale: 1, deleted: 0, unchanged: 0 });
    // One page was enough: the walk stopped at the previous run's mark.
    expect(directory.requests.filter((r) => r.endpoint === "list")).toHaveLength(1);
    expect((await liveIds()).includes("user_10")).toBe(true);
    const [row] = await testDb.client`select last_name from users where id = 'user_03'`;
    expect(row?.last_name).toBe("Changed");
  });
});

describe("one Clerk budget (in PostgreSQL)", () => {
  /** The budget every app instance shares, with pause() calls recorded. */
  function sharedBudget(options: { requestsPerWindow: number; windowMs: number; reconcileShare: number }) {
    const budget = createPostgresClerkBudget({ db: () => Promise.resolve(testDb.db), ...options });
    const pauses: number[] = [];
    return {
      pauses,
      budget: {
        ...budget,
        pause: (retryAfterSeconds: number) => {
          pauses.push(retryAfterSeconds);
          return budget.pause(retryAfterSeconds);
        },
      } satisfies ClerkBudget,
    };
  }

  /** The most rate-limited requests Clerk received in any window (less the send jitter): JWKS is not rate-limited. */
  const busiestWindow = (all: DirectoryRequest[], windowMs: number) => {
    const log = all.filter((r) => r.endpoint !== "jwks");
    return Math.max(...log.map((r) => log.filter((o) => o.atMs >= r.atMs && o.atMs < r.atMs + windowMs - 20).length));
  };

  it("completes when every 4th request is a 429, honours each Retry-After and stays within the limit", async () => {
    for (let i = 0; i < 30; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
    for (let i = 0; i < 5; i++) await mirror(person(`user_stray_${i}`, 1_000));
    directory.setRateLimit({ everyNth: 4, retryAfterSeconds: 1 });
    const limit = { requestsPerWindow: 8, windowMs: 1_000 };
    const { budget, pauses } = sharedBudget({ ...limit, reconcileShare: 1 });

    const report = await reconcile({ dryRun: false, pageSize: 5, budget });

    expect(report.counts).toMatchObject({ missing: 30, deleted: 5 });
    const log = directory.requests;
    const rateLimited = log.filter((r) => r.status === 429);
    expect(rateLimited.length).toBeGreaterThanOrEqual(3);
    expect(pauses).toEqual(rateLimited.map(() => 1));
    for (const hit of rateLimited) {
      // Its sibling request (list and count go together) may be in flight; nothing starts after
      // it until Retry-After has passed.
      const early = log.filter((r) => r.atMs > hit.atMs + 50 && r.atMs < hit.atMs + 1_000);
      expect(early).toEqual([]);
    }
    expect(busiestWindow(log, limit.windowMs)).toBeLessThanOrEqual(limit.requestsPerWindow);
    // Every request the run made is counted, the rate-limited ones too.
    expect(report.clerkRequests).toBe(log.length);
  });

  it("live user.sync calls during a run succeed within the shared budget; reconciliation yields", async () => {
    for (let i = 0; i < 60; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
    const live = ["user_live_a", "user_live_b", "user_live_c", "user_live_d", "user_live_e"];
    for (const id of live) directory.add(person(id, 1_000));
    const limit = { requestsPerWindow: 20, windowMs: 1_000 };
    const { budget } = sharedBudget({ ...limit, reconcileShare: 0.5 });
    const sync = createUserSyncService({
      db: () => Promise.resolve(testDb.db),
      users,
      clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
      cooldownSeconds: 0,
      budget,
    });

    const startedAtMs = Date.now();
    const running = reconcile({ dryRun: false, pageSize: 5, budget });
    const outcomes: { atMs: number; outcome: string }[] = [];
    for (const id of live) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const result = await sync.syncUser(id, { sessionToken: mintSessionToken({ userId: id }) });
      outcomes.push({ atMs: Date.now(), outcome: result.outcome });
    }
    const report = await running;
    const finishedAtMs = Date.now();

    // Every live call succeeded, while the run was going on (it was not finished first).
    expect(outcomes.map((o) => o.outcome).every((o) => ["created", "updated", "touched", "unchanged"].includes(o))).toBe(true);
    expect(outcomes.filter((o) => o.atMs > startedAtMs && o.atMs < finishedAtMs - 100).length).toBeGreaterThanOrEqual(3);
    expect(report.counts.missing + report.counts.unchanged + report.counts.stale).toBe(65);
    // Together they never went over Clerk's limit; reconciliation alone kept to about its share.
    const log = directory.requests;
    expect(busiestWindow(log, limit.windowMs)).toBeLessThanOrEqual(limit.requestsPerWindow);
    const listing = log.filter((r) => r.endpoint === "list" || r.endpoint === "count");
    expect(busiestWindow(listing, limit.windowMs)).toBeLessThanOrEqual(limit.requestsPerWindow / 2 + 1);
    expect(log.filter((r) => r.endpoint === "get" && r.status === 200)).toHaveLength(live.length);
  });
});

describe("single flight and resume, across processes", () => {
  const runningRun = () =>
    testDb.client<{ id: string; walk_cursor: string | null; walked: number }[]>`
      select id, walk_cursor, walked from user_sync_reconcile_runs where status = 'running'`.then((rows) => rows[0]);

  it("refuses a second run while another process holds the lease: ReconcileLockedError in-process, exit 3 from the CLI", async () => {
    for (let i = 0; i < 1_200; i++) directory.add(person(`user_${String(i).padStart(4, "0")}`, 1_000));
    // Clerk holds its answers: the first run is mid-walk, holding the lease, while the others try.
    const release = directory.hold();
    const http = await directory.listen();
    try {
      const first = spawnReconcileCli(["--apply"], { databaseUrl: testDb.url, clerkUrl: http.url });
      const running = await waitFor(runningRun);

      const refused = await reconcile({ dryRun: false }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ReconcileLockedError);
      expect((refused as ReconcileLockedError).runningRunId).toBe(running.id);

      const second = spawnReconcileCli(["--dry-run"], { databaseUrl: testDb.url, clerkUrl: http.url });
      expect(await second.exited).toBe(3);
      expect(second.output().stderr).toMatch(/refused: Another reconciliation run \(.+\) is in progress/);

      release();
      expect(await first.exited).toBe(0);
      expect(first.output().stdout).toMatch(/missing \(created\)\s*│\s*1200/);
      expect(await liveIds()).toHaveLength(1_200);
    } finally {
      release();
      await http.close();
    }
  }, 60_000);

  it("a run killed half-way is taken over once its lease expires, resumes from its cursor and ends in the state of an uninterrupted run", async () => {
    const seed = async () => {
      for (let i = 0; i < 2_000; i++) {
        const p = person(`user_${String(i).padStart(4, "0")}`, 2_000);
        if (!directory.users.has(p.id)) directory.add(p);
        // Half the mirror exists, some of it stale; ten rows Clerk does not have.
        if (i % 2 === 0) await mirror(i % 10 === 0 ? { ...p, lastName: "Old", updatedAtMs: 1_000 } : p);
      }
      for (let i = 0; i < 10; i++) await mirror(person(`user_zz_gone_${i}`, 1_000));
    };
    await seed();
    // After the second page Clerk stops answering: the run is killed with page 3 in flight.
    const release = holdListAfterPages(directory, 2);
    const http = await directory.listen();
    let resumedReport;
    try {
      const killed = spawnReconcileCli(["--apply"], { databaseUrl: testDb.url, clerkUrl: http.url, USER_SYNC_RECONCILE_LEASE_SECONDS: "2" });
      const checkpoint = await waitFor(async () => {
        const run = await runningRun();
        return run && run.walked >= 1_000 ? run : null;
      });
      killed.child.kill("SIGKILL");
      await killed.exited;
      release();
      const [orphan] = await testDb.client`select status, walk_cursor, phase from user_sync_reconcile_runs where id = ${checkpoint.id}`;
      expect(orphan).toMatchObject({ status: "running", phase: "walk", walk_cursor: "user_0999" });

      // Its lease lives on for up to 2 s after its last renewal (until then a new run gets 409).
      directory.requests.length = 0;
      resumedReport = await afterLeaseExpiry(() => reconcile({ dryRun: false }));
      expect(resumedReport.runId).toBe(checkpoint.id);
      expect(resumedReport.resumed).toBe(true);
      // It continued from the cursor: it did not read the first pages again.
      const pagesRead = directory.requests.filter((r) => r.endpoint === "list" && r.userIds === 0);
      expect(pagesRead[0]?.startingAfter).toBe("user_0999");
    } finally {
      await http.close();
    }
    const uninterrupted = await expectSameAsUninterrupted(seed, resumedReport);
    expect(uninterrupted.counts).toEqual({ missing: 1_000, stale: 200, deleted: 10, unchanged: 800 });
  }, 90_000);
});

describe("on embedded PGlite (one connection)", () => {
  it("runs with the lease and refuses a second run in the same process", async () => {
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const client = new PGlite();
    const db = drizzle({ client });
    try {
      await migrate(db, { migrationsFolder: path.resolve("drizzle") });
      for (let i = 0; i < 12; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, 1_000));
      await db.execute(`insert into users (id, email, clerk_updated_at) values ('user_gone', 'gone@example.com', 1)`);
      const release = directory.hold();
      const first = reconcile({ db, dryRun: false, pageSize: 5 });
      const second = await reconcile({ db, dryRun: false }).catch((error: unknown) => error);
      expect(second).toBeInstanceOf(ReconcileLockedError);
      release();
      expect((await first).counts).toEqual({ missing: 12, stale: 0, deleted: 1, unchanged: 0 });
      const again = await reconcile({ db, dryRun: false, pageSize: 5 });
      expect(again.counts).toEqual({ missing: 0, stale: 0, deleted: 0, unchanged: 12 });
    } finally {
      await client.close();
    }
  });
});
