/**
 * Webhooks racing `user.sync` for real: the plugin's service with the real Clerk Backend API
 * client against msw, the webhook handler, and concurrent transactions on the real PostgreSQL
 * server. Both writers go through the one write path, so they must converge on Clerk's newest
 * state, and a deletion must win over a sync that fetched the user before it.
 */
import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { clerkApiUrl, type ClerkUserInput, clerkUserJson, createClerkBackend, deletedEvent, mintSessionToken, signedRequest, testUsers as users, userEvent } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createUserSync } from "../index";

const clerk = createClerkBackend();
// Holds Clerk's answer for a user until the test releases it: "fetched before the delete".
const gates = new Map<string, { onFetched: () => void; released: Promise<void> }>();
let gatedFetches = 0;
const gatedGetUser = http.get(`${clerkApiUrl()}/v1/users/:id`, async ({ params }) => {
  const gate = gates.get(String(params.id));
  const user = clerk.users.get(String(params.id));
  if (!gate || !user) return undefined;
  gatedFetches++;
  const body = clerkUserJson(user);
  gate.onFetched();
  await gate.released;
  return HttpResponse.json(body);
});
const server = setupServer(gatedGetUser, ...clerk.handlers);

let testDb: TestDatabase;
let userSync: ReturnType<typeof createUserSync<typeof users>>;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("webhook_races");
  userSync = createUserSync({
    db: () => Promise.resolve(testDb.db),
    users,
    clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
    cooldownSeconds: 0,
    webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined },
  });
});
afterEach(() => clerk.setLatency(0));
afterAll(async () => {
  server.close();
  await testDb.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (maxMs: number) => sleep(Math.floor(Math.random() * (maxMs + 1)));

/** user.sync as the router calls it: with the caller's verified session token. */
function syncUser(id: string) {
  return userSync.service.syncUser(id, { sessionToken: mintSessionToken({ userId: id }) });
}

function version(id: string, n: number): ClerkUserInput {
  return { id, email: `v${n}.${id}@example.com`, firstName: `First ${n}`, lastName: `Last ${n}`, updatedAtMs: n * 1000 };
}

async function rows(id: string) {
  return testDb.client<{ email: string | null; last_name: string | null; clerk_updated_at: string; deleted_at: unknown }[]>`
    select email, last_name, clerk_updated_at::text, deleted_at from users where id = ${id}`;
}

function tally(outcomes: string[]) {
  return outcomes.reduce<Record<string, number>>((all, outcome) => ({ ...all, [outcome]: (all[outcome] ?? 0) + 1 }), {});
}

describe("webhooks racing user.sync", () => {
  it("converge on Clerk's newest state with one row (100 trials)", async () => {
    const callsBefore = clerk.getUserCalls();
    const syncOutcomes: string[] = [];
    const webhookOutcomes: string[] = [];
    let converged = 0;
    for (let trial = 0; trial < 100; trial++) {
      const id = `user_race_${trial}`;
      // Clerk already holds v3, or still v2 (then the webhook carrying v3 is the newest word).
      clerk.setUser(version(id, trial % 2 === 0 ? 3 : 2));
      clerk.setLatency(trial % 4);
      const deliveries = [1, 2, 3].map(async (n) => {
        await jitter(3);
        const response = await userSync.webhook.handle(
          signedRequest(userEvent(n === 1 ? "user.created" : "user.updated", version(id, n)), { svixId: `msg_${id}_${n}` }),
        );
        return { status: response.status, outcome: ((await response.json()) as { outcome: string }).outcome };
      });
      const sync = jitter(3).then(() => syncUser(id));
      const [syncResult, ...delivered] = await Promise.all([sync, ...deliveries]);
      syncOutcomes.push(syncResult.outcome);
      webhookOutcomes.push(...delivered.map((d) => d.outcome));
      const stored = await rows(id);
      if (
        delivered.every((d) => d.status === 200) &&
        stored.length === 1 &&
        stored[0]?.clerk_updated_at === "3000" &&
        stored[0].email === `v3.${id}@example.com` &&
        stored[0].last_name === "Last 3"
      ) {
        converged++;
      }
    }
    console.info(`${converged}/100 webhook-vs-sync races converged; sync outcomes ${JSON.stringify(tally(syncOutcomes))}, webhook outcomes ${JSON.stringify(tally(webhookOutcomes))}`);
    expect(converged).toBe(100);
    expect(clerk.getUserCalls() - callsBefore).toBeGreaterThanOrEqual(100);
    // The writers really interleaved: older writes arrived after newer ones and were refused.
    expect(webhookOutcomes.filter((o) => o === "stale").length + syncOutcomes.filter((o) => o === "stale").length).toBeGreaterThan(0);
  });

  it("a deletion committed while a sync holds a pre-deletion fetch stays deleted (100 trials)", async () => {
    let stayedDeleted = 0;
    const syncOutcomes: string[] = [];
    for (let trial = 0; trial < 100; trial++) {
      const id = `user_delrace_${trial}`;
      clerk.setUser(version(id, 2));
      // Half the trials start with the row present (created by webhook), half with nothing yet.
      if (trial % 2 === 0) await userSync.webhook.handle(signedRequest(userEvent("user.created", version(id, 1)), { svixId: `msg_${id}_1` }));
      let onFetched!: () => void;
      const fetched = new Promise<void>((resolve) => (onFetched = resolve));
      let release!: () => void;
      gates.set(id, { onFetched, released: new Promise<void>((resolve) => (release = resolve)) });

      const sync = syncUser(id);
      await fetched;
      // Clerk deletes the user after answering the sync; the webhook lands and commits first.
      clerk.users.delete(id);
      const deletion = await userSync.webhook.handle(signedRequest(deletedEvent(id, 5000), { svixId: `msg_${id}_deleted` }));
      release();
      const result = await sync;
      gates.delete(id);
      syncOutcomes.push(result.outcome);
      const stored = await rows(id);
      if (deletion.status === 200 && result.outcome === "deleted" && stored.length === 1 && stored[0]?.deleted_at !== null && stored[0]?.email === null) {
        stayedDeleted++;
      }
    }
    console.info(`${stayedDeleted}/100 delete-vs-stale-sync races stayed deleted; sync outcomes ${JSON.stringify(tally(syncOutcomes))}`);
    expect(gatedFetches).toBeGreaterThanOrEqual(100);
    expect(stayedDeleted).toBe(100);
  });

  it("a deletion racing a sync with free timing stays deleted (100 trials)", async () => {
    let stayedDeleted = 0;
    const syncOutcomes: string[] = [];
    for (let trial = 0; trial < 100; trial++) {
      const id = `user_delfree_${trial}`;
      clerk.setUser(version(id, 2));
      clerk.setLatency(trial % 3);
      const sync = jitter(2).then(() => syncUser(id));
      const deletion = jitter(2).then(async () => {
        clerk.users.delete(id);
        return userSync.webhook.handle(signedRequest(deletedEvent(id, 5000), { svixId: `msg_${id}_deleted` }));
      });
      const [result, response] = await Promise.all([sync, deletion]);
      syncOutcomes.push(result.outcome);
      const stored = await rows(id);
      if (response.status === 200 && stored.length === 1 && stored[0]?.deleted_at !== null && stored[0]?.email === null) stayedDeleted++;
    }
    console.info(`${stayedDeleted}/100 free-timing delete-vs-sync races stayed deleted; sync outcomes ${JSON.stringify(tally(syncOutcomes))}`);
    expect(stayedDeleted).toBe(100);
  });
});
