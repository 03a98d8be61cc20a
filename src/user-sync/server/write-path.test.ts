import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { testUsers as users } from "../testing";
import { createTestDatabase, type TestDatabase } from "./test-database";

import type { ClerkUserSnapshot } from "./clerk/user-json";
import { syncedTableOf } from "./schema";
import { tombstoneClerkUser, upsertClerkUser } from "./write-path";

const table = syncedTableOf(users);
let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase("write_path");
});
beforeEach(() => testDb.truncate());
afterAll(() => testDb.close());

function snapshot(clerkUpdatedAtMs: number, overrides: Partial<ClerkUserSnapshot> = {}): ClerkUserSnapshot {
  return {
    id: "user_ada",
    email: `ada+${clerkUpdatedAtMs}@example.com`,
    phoneNumber: null,
    firstName: "Ada",
    lastName: `Lovelace ${clerkUpdatedAtMs}`,
    username: null,
    imageUrl: null,
    banned: false,
    locked: false,
    clerkUpdatedAtMs,
    ...overrides,
  };
}

async function rowVersion(id = "user_ada") {
  const rows = await testDb.client<{ xmin: string }[]>`select xmin::text from users where id = ${id}`;
  return rows[0]?.xmin ?? null;
}

async function storedRow(id = "user_ada") {
  const rows = await testDb.client<
    {
      last_name: string | null;
      clerk_updated_at: string;
      deleted_at: unknown;
      deleted_by: string | null;
      tier: string;
      email: string | null;
      updated_at: string;
      clerk_fetched_at: string | null;
      last_sync_outcome: string | null;
    }[]
  >`select last_name, clerk_updated_at::text, deleted_at, deleted_by, tier, email, updated_at::text, clerk_fetched_at::text, last_sync_outcome
    from users where id = ${id}`;
  return rows[0] ?? null;
}

describe("upsertClerkUser", () => {
  it("creates, then reports an identical write as unchanged without a new row version", async () => {
    expect((await upsertClerkUser(testDb.db, table, snapshot(100))).outcome).toBe("created");
    const before = await rowVersion();
    const again = await upsertClerkUser(testDb.db, table, snapshot(100));
    expect(again.outcome).toBe("unchanged");
    expect(again.row?.lastName).toBe("Lovelace 100");
    expect(await rowVersion()).toBe(before);
  });

  it("applies a newer clock and rejects an older one as stale, writing nothing", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    expect((await upsertClerkUser(testDb.db, table, snapshot(300))).outcome).toBe("updated");
    const before = await rowVersion();
    const stale = await upsertClerkUser(testDb.db, table, snapshot(200));
    expect(stale.outcome).toBe("stale");
    expect(await rowVersion()).toBe(before);
    expect((await storedRow())?.last_name).toBe("Lovelace 300");
  });

  it("advances the clock even when no mirrored value changed (A@t0, A@t2, B@t1 ends on A)", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(1, { lastName: "A", email: "a@x.test" }));
    expect((await upsertClerkUser(testDb.db, table, snapshot(3, { lastName: "A", email: "a@x.test" }))).outcome).toBe("touched");
    expect((await upsertClerkUser(testDb.db, table, snapshot(2, { lastName: "B" }))).outcome).toBe("stale");
    const row = await storedRow();
    expect(row?.last_name).toBe("A");
    expect(row?.clerk_updated_at).toBe("3");
  });

  it("labels a clock-only change touched and leaves updated_at alone; a data change is updated", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100, { lastName: "A", email: "a@x.test" }));
    const created = await storedRow();
    for (const authority of ["pushed", "fetched"] as const) {
      const clock = authority === "pushed" ? 200 : 300;
      const touched = await upsertClerkUser(testDb.db, table, snapshot(clock, { lastName: "A", email: "a@x.test" }), authority);
      expect(touched.outcome).toBe("touched");
      expect(await storedRow()).toMatchObject({ clerk_updated_at: String(clock), updated_at: created?.updated_at, last_sync_outcome: "touched" });
    }
    const updated = await upsertClerkUser(testDb.db, table, snapshot(400, { lastName: "B", email: "a@x.test" }));
    expect(updated.outcome).toBe("updated");
    expect((await storedRow())?.updated_at).not.toBe(created?.updated_at);
  });

  it("at an equal clock a fetched snapshot wins when values differ; a pushed one writes nothing", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(500, { lastName: "Byron" }), "pushed");
    const before = await rowVersion();
    expect((await upsertClerkUser(testDb.db, table, snapshot(500, { lastName: "King" }), "pushed")).outcome).toBe("unchanged");
    expect(await rowVersion()).toBe(before);
    expect((await storedRow())?.last_name).toBe("Byron");
    const fetched = await upsertClerkUser(testDb.db, table, snapshot(500, { lastName: "King" }), "fetched");
    expect(fetched).toMatchObject({ outcome: "updated", row: { lastName: "King" } });
    // The same fetch again, or an older one: nothing to apply, no row version; the row is still returned.
    const applied = await rowVersion();
    expect(await upsertClerkUser(testDb.db, table, snapshot(500, { lastName: "King" }), "fetched")).toMatchObject({ outcome: "unchanged", row: { lastName: "King" } });
    expect(await upsertClerkUser(testDb.db, table, snapshot(400, { lastName: "Old" }), "fetched")).toMatchObject({ outcome: "stale", row: { lastName: "King" } });
    expect(await rowVersion()).toBe(applied);
    expect(await storedRow()).toMatchObject({ last_name: "King", clerk_updated_at: "500", last_sync_outcome: "updated" });
  });

  it("records the fetch time on a fetched write that applies, never on a pushed one or one that applies nothing", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100), "pushed");
    expect((await storedRow())?.clerk_fetched_at).toBeNull();
    const version = await rowVersion();
    await upsertClerkUser(testDb.db, table, snapshot(50), "fetched");
    expect(await rowVersion()).toBe(version);
    expect((await storedRow())?.clerk_fetched_at).toBeNull();
    await upsertClerkUser(testDb.db, table, snapshot(200), "fetched");
    expect((await storedRow())?.clerk_fetched_at).not.toBeNull();
  });

  it("returns the host's full row, app-owned columns included", async () => {
    const created = await upsertClerkUser(testDb.db, table, snapshot(100));
    expect(created.row).toMatchObject({ id: "user_ada", tier: "FREE" });
  });

  it("never writes app-owned columns", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    await testDb.client`update users set tier = 'MAXX' where id = 'user_ada'`;
    await upsertClerkUser(testDb.db, table, snapshot(200));
    await upsertClerkUser(testDb.db, table, snapshot(150));
    await tombstoneClerkUser(testDb.db, table, "user_ada", 300);
    await upsertClerkUser(testDb.db, table, snapshot(400), "fetched");
    expect((await storedRow())?.tier).toBe("MAXX");
  });

  it("converges to the newest clock under 40 concurrent writers on separate connections", async () => {
    const clocks = Array.from({ length: 40 }, (_, i) => 1000 + ((i * 7919) % 40));
    const results = await Promise.all(clocks.map((clock) => upsertClerkUser(testDb.db, table, snapshot(clock))));
    expect(results.filter((r) => r.outcome === "created")).toHaveLength(1);
    const row = await storedRow();
    expect(row?.clerk_updated_at).toBe(String(Math.max(...clocks)));
    expect(row?.last_name).toBe(`Lovelace ${Math.max(...clocks)}`);
    // The writers really overlapped: several connections of the pool were used.
    const backends = await testDb.client`select count(*)::int as n from pg_stat_activity where datname = current_database()`;
    expect(backends[0]?.n).toBeGreaterThan(1);
  });
});

describe("tombstoneClerkUser", () => {
  it("a webhook tombstone clears PII, keeps the row, and nothing resurrects it", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    const deleted = await tombstoneClerkUser(testDb.db, table, "user_ada", 150);
    expect(deleted.outcome).toBe("deleted");
    expect(deleted.row).toMatchObject({ email: null, firstName: null, lastName: null });
    const before = await rowVersion();
    expect((await upsertClerkUser(testDb.db, table, snapshot(9_999))).outcome).toBe("deleted");
    expect((await upsertClerkUser(testDb.db, table, snapshot(9_999), "fetched")).outcome).toBe("deleted");
    expect((await tombstoneClerkUser(testDb.db, table, "user_ada", 160)).outcome).toBe("deleted");
    expect(await rowVersion()).toBe(before);
    const row = await storedRow();
    expect(row?.deleted_at).not.toBeNull();
    expect(row?.email).toBeNull();
  });

  it("a 404 tombstone keeps the newest known clock and is restored only by a strictly newer fetch", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    await testDb.client`update users set tier = 'PRO' where id = 'user_ada'`;
    expect((await tombstoneClerkUser(testDb.db, table, "user_ada", null, "client-sync")).outcome).toBe("deleted");
    expect(await storedRow()).toMatchObject({ clerk_updated_at: "100", deleted_by: "client-sync", email: null });
    // A pushed payload never restores; a fetch that is not newer does not either.
    expect((await upsertClerkUser(testDb.db, table, snapshot(200), "pushed")).outcome).toBe("deleted");
    expect((await upsertClerkUser(testDb.db, table, snapshot(100), "fetched")).outcome).toBe("deleted");
    const restored = await upsertClerkUser(testDb.db, table, snapshot(101), "fetched");
    expect(restored).toMatchObject({ outcome: "restored", row: { deletedAt: null, deletedBy: null, lastName: "Lovelace 101", tier: "PRO" } });
    expect(await storedRow()).toMatchObject({ deleted_at: null, clerk_updated_at: "101", tier: "PRO", last_sync_outcome: "restored" });
  });

  it("a webhook deletion makes a 404 tombstone final", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    await tombstoneClerkUser(testDb.db, table, "user_ada", null, "client-sync");
    expect((await tombstoneClerkUser(testDb.db, table, "user_ada", 150, "webhook")).outcome).toBe("deleted");
    expect(await storedRow()).toMatchObject({ deleted_by: "webhook", clerk_updated_at: "150" });
    expect((await upsertClerkUser(testDb.db, table, snapshot(9_999), "fetched")).outcome).toBe("deleted");
    // And a later 404 does not downgrade it.
    await tombstoneClerkUser(testDb.db, table, "user_ada", null, "client-sync");
    expect((await storedRow())?.deleted_by).toBe("webhook");
  });

  it("records a deletion that arrives before the user was ever seen", async () => {
    await tombstoneClerkUser(testDb.db, table, "user_ada", 500);
    expect((await upsertClerkUser(testDb.db, table, snapshot(100))).outcome).toBe("deleted");
    const count = await testDb.db.execute(sql`select count(*)::int as n from users where deleted_at is null`);
    expect(count[0]?.n).toBe(0);
  });
});
