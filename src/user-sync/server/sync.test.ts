import { createClerkClient } from "@clerk/backend";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { users } from "~/server/db/schema";
import { createTestDatabase, type TestDatabase } from "~/test/database";
import { clerkApiUrl, createClerkBackend } from "~/test/mocks/clerk-backend";

import { UserSyncError } from "./errors";
import { createUserSyncService, type UserSyncEvent } from "./sync";
import { upsertClerkUser } from "./write-path";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
let testDb: TestDatabase;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("sync_service");
});
beforeEach(async () => {
  clerk.reset();
  await testDb.truncate();
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await testDb.close();
});

const realClerk = createClerkClient({ secretKey: "sk_live_vitest", apiUrl: clerkApiUrl() });
const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };

function service(options: { cooldownSeconds?: number; nowMs?: { value: number }; events?: UserSyncEvent[]; db?: () => Promise<TestDatabase["db"]> } = {}) {
  return createUserSyncService({
    db: options.db ?? (() => Promise.resolve(testDb.db)),
    users,
    clerk: () => Promise.resolve(realClerk),
    cooldownSeconds: options.cooldownSeconds ?? 0,
    now: options.nowMs ? () => options.nowMs!.value : undefined,
    onEvent: (event) => options.events?.push(event),
  });
}

describe("cooldown", () => {
  it("answers from the database within the window and calls Clerk again after it", async () => {
    clerk.setUser(ada);
    const nowMs = { value: 1_000_000 };
    const events: UserSyncEvent[] = [];
    const sync = service({ cooldownSeconds: 30, nowMs, events });
    expect((await sync.syncUser(ada.id)).outcome).toBe("created");
    nowMs.value += 29_000;
    expect((await sync.syncUser(ada.id)).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(1);
    nowMs.value += 2_000;
    await sync.syncUser(ada.id);
    expect(clerk.getUserCalls()).toBe(2);
    expect(events.map((e) => e.clerkFetched)).toEqual([true, false, true]);
  });

  it("does not count a webhook write as a fetch from Clerk", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 60 });
    // The row exists because a (possibly stale) webhook wrote it, not because of a fetch.
    await upsertClerkUser(testDb.db, sync.table, { id: ada.id, email: "old@example.com", firstName: "Old", lastName: null, username: null, imageUrl: null, clerkUpdatedAtMs: 500 });
    const result = await sync.syncUser(ada.id);
    expect(clerk.getUserCalls()).toBe(1);
    expect(result).toMatchObject({ outcome: "updated", user: { email: "ada@example.com" } });
  });

  it("does not answer from the window for a row that is gone", async () => {
    clerk.setUser(ada);
    const sync = service({ cooldownSeconds: 60 });
    await sync.syncUser(ada.id);
    await testDb.truncate();
    expect((await sync.syncUser(ada.id)).outcome).toBe("created");
    expect(clerk.getUserCalls()).toBe(2);
  });
});

describe("failures", () => {
  it("turns a database failure into DATABASE_UNAVAILABLE after Clerk answered, and writes nothing", async () => {
    clerk.setUser(ada);
    const sync = service({ db: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) });
    const error = await sync.syncUser(ada.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserSyncError);
    expect(error).toMatchObject({ code: "DATABASE_UNAVAILABLE" });
    const rows = await testDb.client`select count(*)::int as n from users`;
    expect(rows[0]?.n).toBe(0);
  });

  it("reports Clerk's Retry-After on a 429", async () => {
    clerk.setUser(ada);
    clerk.setFault({ kind: "status", status: 429, retryAfterSeconds: 12 });
    await expect(service().syncUser(ada.id)).rejects.toMatchObject({ code: "CLERK_RATE_LIMITED", retryAfterSeconds: 12 });
  });

  it("lets the next call through after a failed one (no poisoned single-flight)", async () => {
    clerk.setUser(ada);
    clerk.setFault({ kind: "status", status: 502 });
    const sync = service();
    await expect(sync.syncUser(ada.id)).rejects.toMatchObject({ code: "CLERK_UNAVAILABLE" });
    clerk.setFault(null);
    expect((await sync.syncUser(ada.id)).outcome).toBe("created");
  });
});
