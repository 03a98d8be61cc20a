/**
 * The shared Clerk reads (`user_sync_clerk_cache`) on the real PostgreSQL server, with two
 * "instances": two caches, each on its own connection pool. What is counted is how often the
 * load (a Clerk call) runs.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { createTestDatabase, type TestDatabase } from "../test-database";

import { createClerkReadCache } from "./cache";
import { UserSyncError } from "../errors";

let testDb: TestDatabase;
const clients: postgres.Sql[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase("clerk_cache");
});
beforeEach(() => testDb.truncate());
afterAll(async () => {
  await Promise.all(clients.map((client) => client.end({ timeout: 5 })));
  await testDb.close();
});

/** One app instance's cache, on a pool of its own. */
function instance(options: { failureBackoffMs?: number } = {}) {
  const client = postgres(testDb.url, { max: 4, onnotice: () => undefined });
  clients.push(client);
  const db = drizzle({ client });
  return createClerkReadCache({ db: () => Promise.resolve(db), ...options });
}

const read = { periodMs: 60_000, claimMs: 5_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("shared Clerk reads", () => {
  it("20 concurrent misses of one key over two instances make one Clerk call; every caller gets its value and read time", async () => {
    const [a, b] = [instance(), instance()];
    let loads = 0;
    const load = async () => {
      loads++;
      await sleep(150);
      return { admin: false };
    };
    const entries = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).read("admin:user_x", read, load)));
    expect(loads).toBe(1);
    expect(new Set(entries.map((entry) => entry.readAt.toISOString())).size).toBe(1);
    expect(entries.every((entry) => entry.value.admin === false)).toBe(true);
    // Within the period, neither instance calls Clerk again.
    await a.read("admin:user_x", read, load);
    await b.read("admin:user_x", read, load);
    expect(loads).toBe(1);
  });

  it("reads again once the period has passed, and with a period of 0 on every read (still one at a time)", async () => {
    const cache = instance();
    let loads = 0;
    const load = () => Promise.resolve(++loads);
    expect((await cache.read("user_count", read, load)).value).toBe(1);
    await testDb.client`update user_sync_clerk_cache set read_at = read_at - interval '61 seconds'`;
    expect((await cache.read("user_count", read, load)).value).toBe(2);
    expect((await cache.read("user_count", { periodMs: 0, claimMs: 5_000 }, load)).value).toBe(3);
    expect((await cache.read("user_count", { periodMs: 0, claimMs: 5_000 }, load)).value).toBe(4);
  });

  it("a failed read reaches the callers that shared it; no instance asks Clerk again for that key until the back-off passed, then one does", async () => {
    const [a, b] = [instance({ failureBackoffMs: 300 }), instance({ failureBackoffMs: 300 })];
    let loads = 0;
    const failing = async () => {
      loads++;
      await sleep(50);
      throw new UserSyncError("CLERK_UNAVAILABLE", "Clerk's Backend API failed (502)");
    };
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => a.read("admin:user_y", read, failing)));
    expect(results.every((result) => result.status === "rejected")).toBe(true);
    expect(loads).toBe(1);
    // Instance B, right after the failure: it waits out the back-off, then reads Clerk itself.
    const entry = await b.read("admin:user_y", read, () => {
      loads++;
      return Promise.resolve({ admin: true });
    });
    expect(entry.value).toEqual({ admin: true });
    expect(loads).toBe(2);
  });

  it("a claim whose instance vanished is taken over once it lapses", async () => {
    const cache = instance();
    // An instance claimed the key and died before storing anything.
    await testDb.client`insert into user_sync_clerk_cache (key, claimed_until) values ('user_count', now() + interval '200 milliseconds')`;
    const entry = await cache.read("user_count", read, () => Promise.resolve(7));
    expect(entry.value).toBe(7);
  });
});
