import net from "node:net";

import { drizzle } from "drizzle-orm/postgres-js";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkBackend, mintSessionToken, testUsers as users } from "../testing";
import { integrationHarness } from "./test-database";

import { UserSyncError } from "./errors";
import { createUserSyncService } from "./sync";
import { type UserSyncEvent } from "./events";
import { upsertClerkUser } from "./write-path";
import { type UserSyncDatabase } from "./database";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
const testDb = integrationHarness("sync_service", server, { reset: () => clerk.reset() });

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };
const caller = () => ({ sessionToken: mintSessionToken({ userId: ada.id }) });

function service(options: { cooldownSeconds?: number; events?: UserSyncEvent[]; db?: () => Promise<UserSyncDatabase> } = {}) {
  return createUserSyncService({
    db: options.db ?? (() => Promise.resolve(testDb.db)),
    users,
    clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
    cooldownSeconds: options.cooldownSeconds ?? 0,
    onEvent: (event) => options.events?.push(event),
  });
}

/** Moves the row's last fetch from Clerk into the past, as if `agoMs` had passed. */
async function fetchedAgo(agoMs: number) {
  await testDb.client`update user_sync_clerk_fetches set fetched_at = now() - ${agoMs} * interval '1 millisecond' where user_id = ${ada.id}`;
}

describe("cooldown", () => {
  it("answers from the database within the window and calls Clerk again after it", async () => {
    clerk.setUser(ada);
    const events: UserSyncEvent[] = [];
    const sync = service({ cooldownSeconds: 30, events });
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("created");
    await fetchedAgo(29_000);
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(1);
    await fetchedAgo(31_000);
    await sync.syncUser(ada.id, caller());
    expect(clerk.getUserCalls()).toBe(2);
    expect(events.map((e) => e.clerkFetched)).toEqual([true, false, true]);
    expect(sync.counts()).toMatchObject({ clerkFetches: 2, cooldownHits: 1 });
  });

  it("does not count a webhook write as a fetch from Clerk", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 60 });
    // The row exists because a (possibly stale) webhook wrote it, not because of a fetch.
    await upsertClerkUser(testDb.db, sync.table, { id: ada.id, email: "old@example.com", phoneNumber: null, firstName: "Old", lastName: null, username: null, imageUrl: null, banned: false, locked: false, clerkUpdatedAtMs: 500 });
    const result = await sync.syncUser(ada.id, caller());
    expect(clerk.getUserCalls()).toBe(1);
    expect(result).toMatchObject({ outcome: "updated", user: { email: "ada@example.com" } });
  });

  it("does not answer from the window for a row that is gone", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 60 });
    await sync.syncUser(ada.id, caller());
    await testDb.truncate();
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("created");
    expect(clerk.getUserCalls()).toBe(2);
  });

  it("makes no new row version of users for an identical re-sync after the window (the window lives in its own table)", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 30 });
    await sync.syncUser(ada.id, caller());
    const rowVersion = async () => (await testDb.client<{ xmin: string }[]>`select xmin::text from users where id = ${ada.id}`)[0]?.xmin;
    const before = await rowVersion();
    await fetchedAgo(31_000);
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(2);
    const after = await rowVersion();
    console.info(`identical re-sync after the cooldown: Clerk called, users row version (xmin) ${before} -> ${after}`);
    expect(after).toBe(before);
  });

  it("releases the window when the fetch it claimed failed: the next sync calls Clerk", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 60 });
    await sync.syncUser(ada.id, caller());
    await fetchedAgo(61_000);
    clerk.setFault({ kind: "status", status: 503 });
    await expect(sync.syncUser(ada.id, caller())).rejects.toBeInstanceOf(UserSyncError);
    clerk.setFault(null);
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(3);
  });

  describe("two app instances on one database (each its own service and connection pool)", () => {
    async function twoInstances() {
      const clients = [1, 2].map(() => postgres(testDb.url, { max: 5, onnotice: () => undefined }));
      const instances = clients.map((client) => {
        const db = drizzle({ client });
        return service({ cooldownSeconds: 30, db: () => Promise.resolve(db) });
      });
      return { a: instances[0]!, b: instances[1]!, close: () => Promise.all(clients.map((c) => c.end({ timeout: 5 }))) };
    }

    it("20 concurrent syncs of one user split across both make at most 2 Clerk calls", async () => {
      clerk.setUser(ada);
      clerk.setLatency(100);
      const { a, b, close } = await twoInstances();
      try {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).syncUser(ada.id, caller())));
        console.info(`two instances, 20 concurrent syncs of one user: ${clerk.getUserCalls()} Clerk call(s)`);
        expect(clerk.getUserCalls()).toBeGreaterThanOrEqual(1);
        expect(clerk.getUserCalls()).toBeLessThanOrEqual(2);
        expect(results.every((r) => r.user !== null)).toBe(true);
      } finally {
        await close();
      }
    });

    it("a sync on instance B within the cooldown after one on A makes no Clerk call", async () => {
      clerk.setUser(ada);
      const { a, b, close } = await twoInstances();
      try {
        expect((await a.syncUser(ada.id, caller())).outcome).toBe("created");
        const onB = await b.syncUser(ada.id, caller());
        console.info(`two instances: sync on A then on B within the cooldown: ${clerk.getUserCalls()} Clerk call(s) in all, B answered ${onB.outcome}`);
        expect(clerk.getUserCalls()).toBe(1);
        expect(onB).toMatchObject({ outcome: "unchanged", user: { email: ada.email } });
        expect(b.counts()).toMatchObject({ clerkFetches: 0, cooldownHits: 1 });
      } finally {
        await close();
      }
    });
  });
});

describe("failures", () => {
  it("turns a database failure into DATABASE_UNAVAILABLE after Clerk answered, and writes nothing", async () => {
    clerk.setUser(ada);
    const sync = service({ db: () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })) });
    const error = await sync.syncUser(ada.id, caller()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserSyncError);
    expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE" });
    const rows = await testDb.client`select count(*)::int as n from users`;
    expect(rows[0]?.n).toBe(0);
  });

  it("a database that never answers fails the sync when connecting times out, and frees its single-flight slot", async () => {
    clerk.setUser(ada);
    // Accepts connections and never says a word: a hung database.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const client = postgres(`postgres://postgres@127.0.0.1:${port}/none`, { max: 1, connect_timeout: 1, onnotice: () => undefined });
    const hung = drizzle({ client });
    try {
      const sync = service({ db: () => Promise.resolve(hung) });
      const error = await sync.syncUser(ada.id, caller()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE" });
      expect((error as Error).message).toContain("CONNECT_TIMEOUT");
      // Not joined to a stuck promise: a second call runs (and fails) on its own.
      await expect(sync.syncUser(ada.id, caller())).rejects.toMatchObject({ code: "DATABASE_UNAVAILABLE" });
      expect(clerk.getUserCalls()).toBe(2);
    } finally {
      await client.end({ timeout: 1 });
      silent.close();
    }
  });

  it("reports Clerk's Retry-After on a 429", async () => {
    clerk.setUser(ada);
    clerk.setFault({ kind: "status", status: 429, retryAfterSeconds: 12 });
    await expect(service().syncUser(ada.id, caller())).rejects.toMatchObject({ code: "CLERK_RATE_LIMITED", retryAfterSeconds: 12 });
  });

  it("a wrong secret key (401) is CLERK_KEY_REJECTED, reported as a configuration problem", async () => {
    clerk.setUser(ada);
    const logged: unknown[] = [];
    const sync = createUserSyncService({
      db: () => Promise.resolve(testDb.db),
      users,
      clerk: { secretKey: "sk_live_of_nobody", apiUrl: clerkApiUrl() },
      cooldownSeconds: 0,
      log: (entry) => logged.push(entry),
    });
    for (let i = 0; i < 2; i++) {
      const error = await sync.syncUser(ada.id, caller()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "CLERK_KEY_REJECTED" });
      expect((error as Error).message).toContain("CLERK_SECRET_KEY");
    }
    expect(sync.configProblems()).toEqual([expect.objectContaining({ code: "CLERK_KEY_REJECTED" })]);
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain("sk_live_of_nobody");
  });

  it("a JWKS that cannot be fetched leaves the row alive (no tombstone without proof)", async () => {
    clerk.setUser(ada);
    const sync = service();
    await sync.syncUser(ada.id, caller());
    clerk.users.delete(ada.id);
    clerk.setJwksFault({ kind: "status", status: 503 });
    await expect(sync.syncUser(ada.id, caller())).rejects.toMatchObject({ code: "CLERK_UNAVAILABLE" });
    const rows = await testDb.client`select deleted_at from users where id = ${ada.id}`;
    expect(rows[0]?.deleted_at).toBeNull();
    clerk.setJwksFault(null);
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("deleted");
  });

  it("a session token without a key id cannot prove the instance: no tombstone", async () => {
    clerk.setUser(ada);
    const sync = service();
    await sync.syncUser(ada.id, caller());
    clerk.users.delete(ada.id);
    await expect(sync.syncUser(ada.id, { sessionToken: null })).rejects.toMatchObject({ code: "CLERK_INSTANCE_MISMATCH" });
    const rows = await testDb.client`select deleted_at from users where id = ${ada.id}`;
    expect(rows[0]?.deleted_at).toBeNull();
  });

  it("lets the next call through after a failed one (no poisoned single-flight)", async () => {
    clerk.setUser(ada);
    clerk.setFault({ kind: "status", status: 502 });
    const sync = service();
    await expect(sync.syncUser(ada.id, caller())).rejects.toMatchObject({ code: "CLERK_UNAVAILABLE" });
    clerk.setFault(null);
    expect((await sync.syncUser(ada.id, caller())).outcome).toBe("created");
  });
});
