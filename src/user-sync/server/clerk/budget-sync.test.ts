/**
 * Live `user.sync` on the shared Clerk budget: two app instances (two services, two pools, one
 * PostgreSQL database), the plugin's Backend API client against msw. A spent budget refuses
 * without calling Clerk; a 429 seen by one instance pauses the other.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import { setupServer } from "msw/node";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { clerkApiUrl, createClerkBackend, mintSessionToken, testSchema as schema, testUsers as users } from "../../testing";
import { integrationHarness } from "../test-database";

import { createPostgresClerkBudget, type PostgresClerkBudgetOptions } from "./budget";
import { UserSyncError } from "../errors";
import { createUserSyncService } from "../sync";
import { type UserSyncEvent } from "../events";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
const testDb = integrationHarness("clerk_budget_sync", server, { reset: () => clerk.reset() });
let otherInstance: ReturnType<typeof postgres>;

beforeAll(() => {
  otherInstance = postgres(testDb.url, { max: 5, onnotice: () => undefined });
});
afterAll(() => otherInstance.end({ timeout: 5 }));

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", updatedAtMs: 1_000 };
const grace = { id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 1_000 };
const callerOf = (userId: string) => ({ sessionToken: mintSessionToken({ userId }) });

/** One app instance: its own pool, its own budget object on the shared row, its own service. */
function instance(budgetSettings: Omit<PostgresClerkBudgetOptions, "db">, which: "a" | "b", events: UserSyncEvent[] = [], cooldownSeconds = 0) {
  const db = which === "a" ? testDb.db : drizzle({ client: otherInstance, schema });
  const budget = createPostgresClerkBudget({ ...budgetSettings, db: () => Promise.resolve(db) });
  const service = createUserSyncService({
    db: () => Promise.resolve(db),
    users,
    clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
    cooldownSeconds,
    budget,
    clerkBudgetWaitMs: 0,
    onEvent: (event) => events.push(event),
  });
  return { budget, service };
}

async function failureOf(promise: Promise<unknown>): Promise<UserSyncError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UserSyncError) return error;
    throw error;
  }
  throw new Error("expected the sync to fail");
}

describe("user.sync on the shared Clerk budget", () => {
  it("takes one permission per Clerk call: with the budget spent on another instance, a sync fails CLERK_RATE_LIMITED without calling Clerk", async () => {
    clerk.setUser(ada);
    clerk.setUser(grace);
    // Burst 2 and one more request per minute: two Clerk calls now, then none.
    const settings = { requestsPerWindow: 4, windowMs: 60_000, burst: 2 };
    const eventsB: UserSyncEvent[] = [];
    const a = instance(settings, "a");
    const b = instance(settings, "b", eventsB);
    expect((await a.service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("created");
    expect((await a.service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(2);

    const refused = await failureOf(b.service.syncUser(grace.id, callerOf(grace.id)));
    expect(refused.code).toBe("CLERK_RATE_LIMITED");
    // The wait for the next slot (one request per 60 s here), as Retry-After seconds.
    expect(refused.retryAfterSeconds).toBeGreaterThan(50);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(clerk.getUserCalls()).toBe(2);
    // Telemetry says Clerk was not called, and nothing was written.
    expect(eventsB).toEqual([expect.objectContaining({ source: "client-sync", outcome: "error", clerkFetched: false, errorCode: "CLERK_RATE_LIMITED" })]);
    expect(await testDb.client`select id from users where id = ${grace.id}`).toHaveLength(0);
  });

  it("pauses every instance on Clerk's 429 until its Retry-After has passed", async () => {
    clerk.setUser(ada);
    clerk.setUser(grace);
    const settings = { requestsPerWindow: 100 };
    const a = instance(settings, "a");
    const b = instance(settings, "b");
    clerk.setFault({ kind: "status", status: 429, retryAfterSeconds: 2 });
    const limited = await failureOf(a.service.syncUser(ada.id, callerOf(ada.id)));
    expect(limited).toMatchObject({ code: "CLERK_RATE_LIMITED", retryAfterSeconds: 2 });
    expect(clerk.getUserCalls()).toBe(1);

    // Clerk has recovered, but the other instance must not call it before the pause ends.
    clerk.setFault(null);
    const paused = await failureOf(b.service.syncUser(grace.id, callerOf(grace.id)));
    expect(paused.code).toBe("CLERK_RATE_LIMITED");
    expect(paused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(paused.retryAfterSeconds).toBeLessThanOrEqual(2);
    expect(clerk.getUserCalls()).toBe(1);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await b.service.syncUser(grace.id, callerOf(grace.id))).outcome).toBe("created");
    expect(clerk.getUserCalls()).toBe(2);
  });

  it("lets a sync wait a moment for a slot instead of failing", async () => {
    clerk.setUser(ada);
    const db = testDb.db;
    // Burst 1, then one request per 200 ms.
    const budget = createPostgresClerkBudget({ db: () => Promise.resolve(db), requestsPerWindow: 7, windowMs: 1_000, burst: 1 });
    const service = createUserSyncService({
      db: () => Promise.resolve(db),
      users,
      clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
      cooldownSeconds: 0,
      budget,
      clerkBudgetWaitMs: 1_000,
    });
    const results = await Promise.all([1, 2, 3].map(() => service.syncUser(ada.id, callerOf(ada.id))));
    // Concurrent syncs of one user share one call; then two more calls, each waiting for its slot.
    expect(results.map((r) => r.outcome)).toEqual(["created", "created", "created"]);
    expect((await service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("unchanged");
    expect((await service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("unchanged");
    expect(clerk.getUserCalls()).toBe(3);
  });

  describe("with the cooldown: the claim's statement also decides the call", () => {
    const lin = { id: "user_lin", email: "lin@example.com", firstName: "Lin", updatedAtMs: 1_000 };
    const budgetClock = async () => (await testDb.client<{ tat_ms: number }[]>`select tat_ms from user_sync_clerk_budget`)[0]?.tat_ms;

    it("takes no permission for a sync the cooldown answers; a refused one calls no Clerk, stores nothing and releases its claim", async () => {
      for (const user of [ada, grace, lin]) clerk.setUser(user);
      const settings = { requestsPerWindow: 4, windowMs: 60_000, burst: 2 };
      const eventsB: UserSyncEvent[] = [];
      const a = instance(settings, "a", [], 10);
      const b = instance(settings, "b", eventsB, 10);
      // The budget's row does not exist yet: the first decision creates it.
      expect((await a.service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("created");
      const clockAfterFirst = await budgetClock();
      expect((await b.service.syncUser(ada.id, callerOf(ada.id))).outcome).toBe("unchanged");
      expect(await budgetClock()).toBe(clockAfterFirst);
      expect(clerk.getUserCalls()).toBe(1);

      expect((await b.service.syncUser(grace.id, callerOf(grace.id))).outcome).toBe("created");
      expect(await budgetClock()).toBeGreaterThan(clockAfterFirst!);
      const refused = await failureOf(b.service.syncUser(lin.id, callerOf(lin.id)));
      expect(refused.code).toBe("CLERK_RATE_LIMITED");
      expect(refused.retryAfterSeconds).toBeGreaterThan(50);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(clerk.getUserCalls()).toBe(2);
      expect(eventsB.at(-1)).toEqual(expect.objectContaining({ outcome: "error", clerkFetched: false, errorCode: "CLERK_RATE_LIMITED" }));
      expect(await testDb.client`select id from users where id = ${lin.id}`).toHaveLength(0);
      expect(await testDb.client`select user_id from user_sync_clerk_fetches where user_id = ${lin.id}`).toHaveLength(0);
    });

    it("waits for a reserved slot, and a 429 pauses the other instance", async () => {
      for (const user of [ada, grace, lin]) clerk.setUser(user);
      // Burst 1, then one request per 200 ms.
      const a = instance({ requestsPerWindow: 7, windowMs: 1_000, burst: 1 }, "a", [], 10);
      const waiting = instance({ requestsPerWindow: 7, windowMs: 1_000, burst: 1 }, "b", [], 10);
      const waitingService = createUserSyncService({
        db: () => Promise.resolve(testDb.db),
        users,
        clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
        cooldownSeconds: 10,
        budget: waiting.budget,
        clerkBudgetWaitMs: 1_000,
      });
      const results = await Promise.all([ada, grace, lin].map((user) => waitingService.syncUser(user.id, callerOf(user.id))));
      expect(results.map((r) => r.outcome)).toEqual(["created", "created", "created"]);
      expect(clerk.getUserCalls()).toBe(3);

      await testDb.client`update user_sync_clerk_fetches set fetched_at = now() - interval '1 minute'`;
      await new Promise((resolve) => setTimeout(resolve, 300));
      clerk.setFault({ kind: "status", status: 429, retryAfterSeconds: 2 });
      expect(await failureOf(a.service.syncUser(ada.id, callerOf(ada.id)))).toMatchObject({ code: "CLERK_RATE_LIMITED", retryAfterSeconds: 2 });
      clerk.setFault(null);
      const paused = await failureOf(waiting.service.syncUser(grace.id, callerOf(grace.id)));
      expect(paused.code).toBe("CLERK_RATE_LIMITED");
      expect(clerk.getUserCalls()).toBe(4);
    });
  });
});
