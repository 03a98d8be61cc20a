/**
 * How reconciliation walks Clerk's list, against a directory with Clerk's rules (msw): the
 * `starting_after` cursor past the depth where offsets time out, the page size Clerk accepts,
 * pages that time out, a cursor whose user is deleted (each of Clerk's possible answers), and
 * incremental mode, which cannot skip a user and never walks deeper than its depth.
 */
import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { integrationHarness } from "../test-database";
import { createClerkUserDirectory, type UnknownCursor } from "../../testing";
import { person, reconcileFixtures } from "./test-fixtures";

import { ReconcileRefusedError } from "./index";

const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
const testDb = integrationHarness("reconcile_walk", server, { reset: () => directory.reset() });
const { reconcile, mirror, liveIds } = reconcileFixtures(testDb);

const seedClerk = (count: number, prefix = "user") => {
  const width = String(count).length;
  for (let i = 0; i < count; i++) directory.add(person(`${prefix}_${String(i).padStart(width, "0")}`, 1_000));
};
const listRequests = () => directory.requests.filter((r) => r.endpoint === "list" && r.userIds === 0);

describe("full mode walks with Clerk's cursor", () => {
  it("completes a walk of more users than the depth where Clerk's offsets time out", async () => {
    // Clerk: an offset of 1,000 or more is a 504 request_timeout.
    directory.setOffsetCost({ timeoutDepth: 1_000 });
    seedClerk(2_600);
    const report = await reconcile({ dryRun: false, pageSize: 500 });
    expect(report.counts.missing).toBe(2_600);
    expect(await liveIds()).toHaveLength(2_600);
    // Six pages by cursor (the last one short), each after the previous page's last user.
    expect(listRequests().map((r) => [r.offset, r.orderBy, r.startingAfter])).toEqual([
      [0, "+created_at", null],
      [0, "+created_at", "user_0499"],
      [0, "+created_at", "user_0999"],
      [0, "+created_at", "user_1499"],
      [0, "+created_at", "user_1999"],
      [0, "+created_at", "user_2499"],
    ]);
    expect(directory.requests.filter((r) => r.status === 504)).toEqual([]);
  });

  it("asks for at most 500 per page: a larger page size is clamped (Clerk answers 10 users to a limit over 500)", async () => {
    seedClerk(1_200);
    const report = await reconcile({ dryRun: false, pageSize: 1_000 });
    expect(report.counts.missing).toBe(1_200);
    expect(new Set(listRequests().map((r) => r.limit))).toEqual(new Set([500]));
  });

  it("sends a page that times out again, from the same cursor, with backoff", async () => {
    seedClerk(30);
    let pages = 0;
    directory.onListPage(() => {
      // After the first page Clerk times out twice (504 request_timeout).
      if (++pages === 1) directory.failNextLists(504, 2);
    });
    const report = await reconcile({ dryRun: false, pageSize: 10 });
    expect(report.counts.missing).toBe(30);
    const afterFirst = listRequests().filter((r) => r.startingAfter === "user_09");
    expect(afterFirst.map((r) => r.status)).toEqual([504, 504, 200]);
  });

  it.each<UnknownCursor>(["error", "empty", "continue"])(
    "a cursor whose user is deleted during the walk (Clerk answers %s): the walk finds its place again and skips no one",
    async (answer) => {
      directory.setUnknownCursor(answer);
      seedClerk(23);
      let pages = 0;
      const served = new Set<string>();
      let deletedCursor = "";
      directory.onListPage((page) => {
        if (page.userIds.length) return;
        for (const id of page.served) served.add(id);
        // The last user of page 2 (the next request's cursor) is deleted in Clerk.
        if (++pages === 2) {
          deletedCursor = page.served.at(-1)!;
          directory.remove(deletedCursor);
        }
      });
      const report = await reconcile({ dryRun: false, pageSize: 5 });
      expect(report.counts.missing).toBe(23);
      const inClerk = [...directory.users.keys()];
      expect(inClerk.filter((id) => !served.has(id))).toEqual([]);
      // The deleted cursor was walked alive: the next run tombstones it (its deletion is confirmed).
      directory.onListPage(null);
      expect((await reconcile({ dryRun: false, pageSize: 5 })).counts.deleted).toBe(1);
      expect(await liveIds()).toEqual(inClerk.sort());
    },
  );

  it("users created during the walk are reached at its end; none is tombstoned", async () => {
    seedClerk(12);
    for (const id of directory.users.keys()) await mirror(person(id, 1_000));
    let pages = 0;
    directory.onListPage((page) => {
      if (!page.userIds.length && ++pages === 1) directory.add(person("user_zz_signed_up", 2_000));
    });
    const report = await reconcile({ dryRun: false, pageSize: 5 });
    expect(report.counts).toEqual({ missing: 1, stale: 0, deleted: 0, unchanged: 12 });
    expect(await liveIds()).toContain("user_zz_signed_up");
  });
});

describe("incremental mode", () => {
  it("a deletion during the walk cannot make it skip a changed user: the pages overlap, and it reads again when they stop overlapping", async () => {
    const start = Date.now() - 3_600_000;
    for (let i = 0; i < 30; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, start + i));
    await reconcile({ dryRun: false });
    // Every user changes in Clerk after that run.
    const changedAt = Date.now() + 1_000;
    for (let i = 0; i < 30; i++) directory.update(`user_${String(i).padStart(2, "0")}`, { lastName: `Changed ${i}`, updatedAtMs: changedAt + i });

    let pages = 0;
    const deleted: string[] = [];
    directory.onListPage((page) => {
      if (page.userIds.length) return;
      // After the first page, three users it served are deleted: the list moves up by three.
      if (++pages === 1) {
        deleted.push(...page.served.slice(0, 3));
        for (const id of deleted) directory.remove(id);
      }
    });
    const report = await reconcile({ dryRun: false, mode: "incremental", pageSize: 5, incrementalOverlapMs: 0 });
    directory.onListPage(null);
    expect(report.counts.stale).toBe(30);
    const stale = await testDb.client`select id from users where last_name not like 'Changed %' order by id`;
    expect(stale).toEqual([]);
    // Incremental runs never tombstone; the next one (which reads the same changes again) finds nothing left to do.
    expect(await liveIds()).toHaveLength(30);
    expect((await reconcile({ dryRun: false, mode: "incremental", pageSize: 5, incrementalOverlapMs: 0 })).counts).toMatchObject({
      missing: 0,
      stale: 0,
      deleted: 0,
    });
  });

  it("never asks for an offset past its depth: it applies what it read and is refused, telling the operator to run full mode", async () => {
    directory.setOffsetCost({ timeoutDepth: 25 });
    const recent = Date.now() - 60_000;
    for (let i = 0; i < 60; i++) directory.add(person(`user_${String(i).padStart(2, "0")}`, recent + i));
    const refused = await reconcile({ dryRun: false, mode: "incremental", pageSize: 5, incrementalMaxDepth: 20 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ReconcileRefusedError);
    expect(refused).toMatchObject({ code: "INCREMENTAL_TOO_DEEP", message: expect.stringMatching(/run a full reconciliation \(mode=full\)/) as string });
    expect(Math.max(...listRequests().map((r) => r.offset))).toBeLessThan(20);
    // What it read was applied: the newest users.
    expect((refused as ReconcileRefusedError).report.counts.missing).toBeGreaterThanOrEqual(15);
    expect(await liveIds()).toContain("user_59");
    // A full run then completes through the cursor.
    expect((await reconcile({ dryRun: false })).status).toBe("succeeded");
    expect(await liveIds()).toHaveLength(60);
  });
});
