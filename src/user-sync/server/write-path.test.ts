import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { createTestDatabase, type TestDatabase } from "~/test/database";

import type { ClerkUserSnapshot } from "./clerk-user";
import { syncedUsersTable } from "./schema";
import { tombstoneClerkUser, upsertClerkUser } from "./write-path";

const table = syncedUsersTable("users");
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
    firstName: "Ada",
    lastName: `Lovelace ${clerkUpdatedAtMs}`,
    username: null,
    imageUrl: null,
    clerkUpdatedAtMs,
    ...overrides,
  };
}

async function rowVersion(id = "user_ada") {
  const rows = await testDb.client<{ xmin: string }[]>`select xmin::text from users where id = ${id}`;
  return rows[0]?.xmin ?? null;
}

async function storedRow(id = "user_ada") {
  const rows = await testDb.client<{ last_name: string | null; clerk_updated_at: string; deleted_at: unknown; tier: string; email: string | null }[]>`
    select last_name, clerk_updated_at::text, deleted_at, tier, email from users where id = ${id}`;
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
    await upsertClerkUser(testDb.db, table, snapshot(0, { lastName: "A" }));
    expect((await upsertClerkUser(testDb.db, table, snapshot(2, { lastName: "A", email: "a@x.test" }))).outcome).toBe("updated");
    await upsertClerkUser(testDb.db, table, snapshot(0, { lastName: "A", email: "a@x.test" }));
    expect((await upsertClerkUser(testDb.db, table, snapshot(1, { lastName: "B" }))).outcome).toBe("stale");
    const row = await storedRow();
    expect(row?.last_name).toBe("A");
    expect(row?.clerk_updated_at).toBe("2");
  });

  it("never writes app-owned columns", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    await testDb.client`update users set tier = 'MAXX' where id = 'user_ada'`;
    await upsertClerkUser(testDb.db, table, snapshot(200));
    await upsertClerkUser(testDb.db, table, snapshot(150));
    await tombstoneClerkUser(testDb.db, table, "user_ada", 300);
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
  it("clears PII, keeps the row, and nothing resurrects it", async () => {
    await upsertClerkUser(testDb.db, table, snapshot(100));
    const deleted = await tombstoneClerkUser(testDb.db, table, "user_ada", 150);
    expect(deleted.outcome).toBe("deleted");
    expect(deleted.row).toMatchObject({ email: null, firstName: null, lastName: null });
    const before = await rowVersion();
    expect((await upsertClerkUser(testDb.db, table, snapshot(9_999))).outcome).toBe("deleted");
    expect((await tombstoneClerkUser(testDb.db, table, "user_ada", 160)).outcome).toBe("deleted");
    expect(await rowVersion()).toBe(before);
    const row = await storedRow();
    expect(row?.deleted_at).not.toBeNull();
    expect(row?.email).toBeNull();
  });

  it("records a deletion that arrives before the user was ever seen", async () => {
    await tombstoneClerkUser(testDb.db, table, "user_ada", 500);
    expect((await upsertClerkUser(testDb.db, table, snapshot(100))).outcome).toBe("deleted");
    const count = await testDb.db.execute(sql`select count(*)::int as n from users where deleted_at is null`);
    expect(count[0]?.n).toBe(0);
  });
});
