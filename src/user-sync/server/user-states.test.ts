/**
 * What real Clerk does that a kinder stand-in hides, end to end through `createUserSync` against
 * the real PostgreSQL server and Clerk's Backend API shapes (msw):
 * - Clerk does not move `updated_at` for every change (adding an unverified address does not;
 *   whether switching the primary does is undocumented), so a webhook payload can carry the
 *   clock the mirror already holds with other values. Such a `diverged` payload is settled by
 *   one fetch of the user from Clerk, never silently dropped: an email switch converges through
 *   webhooks alone whether or not Clerk moved the clock.
 * - The mirror holds Clerk's `banned` and `locked` states and the primary phone number, written
 *   by `user.sync` and by webhooks alike, and cleared by a tombstone.
 */
import { setupServer } from "msw/node";
import { describe, expect, it } from "vitest";

import { clerkApiUrl, type ClerkUserInput, createClerkBackend, mintSessionToken, signedRequest, testUsers as users, userEvent } from "../testing";
import { integrationHarness } from "./test-database";

import { createUserSync } from "./index";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
const testDb = integrationHarness("user_states", server, { reset: () => clerk.reset() });

function plugin() {
  return createUserSync({
    db: () => Promise.resolve(testDb.db),
    users,
    clerk: { secretKey: process.env.CLERK_SECRET_KEY!, apiUrl: clerkApiUrl() },
    cooldownSeconds: 0,
    telemetry: false,
    webhook: { signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET, log: () => undefined, pruneIntervalMs: 0 },
  });
}

const ada: ClerkUserInput = { id: "user_ada", email: "ada@old.example", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 5_000 };

async function row(id = ada.id) {
  const [found] = await testDb.client<
    { email: string | null; phone_number: string | null; banned: boolean; locked: boolean; clerk_updated_at: string; xmin: string }[]
  >`select email, phone_number, banned, locked, clerk_updated_at::text, xmin::text from users where id = ${id}`;
  return found ?? null;
}

async function inboxOutcome(svixId: string) {
  const [found] = await testDb.client<{ outcome: string }[]>`select outcome from clerk_webhook_events where svix_id = ${svixId}`;
  return found?.outcome ?? null;
}

async function deliver(userSync: ReturnType<typeof plugin>, user: ClerkUserInput, svixId: string) {
  const response = await userSync.webhook.handle(signedRequest(userEvent("user.updated", user), { svixId }));
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("a payload at the mirror's clock with other values", () => {
  it("is settled by one fetch from Clerk: an unclocked email switch ends on Clerk's current address", async () => {
    const userSync = plugin();
    // The mirror holds the old address at Clerk's clock T.
    expect(await deliver(userSync, ada, "msg_before")).toMatchObject({ status: 200, body: { outcome: "created" } });
    // Clerk switched the primary address without moving `updated_at`.
    const switched = { ...ada, email: "ada@new.example", otherEmails: ["ada@old.example"] };
    clerk.setUser(switched);

    expect(await deliver(userSync, switched, "msg_switch")).toMatchObject({ status: 200, body: { outcome: "updated" } });
    expect(await row()).toMatchObject({ email: "ada@new.example", clerk_updated_at: "5000" });
    expect(clerk.getUserCalls()).toBe(1);
    expect(await inboxOutcome("msg_switch")).toBe("updated");

    // A redelivery is a duplicate (no second fetch), and the older payload replayed at the same
    // clock is settled by Clerk's answer again: the mirror stays on the current address.
    expect(await deliver(userSync, switched, "msg_switch")).toMatchObject({ body: { outcome: "duplicate" } });
    expect(await deliver(userSync, ada, "msg_before_replayed_as_new")).toMatchObject({ body: { outcome: "unchanged" } });
    expect(await row()).toMatchObject({ email: "ada@new.example" });
    expect(clerk.getUserCalls()).toBe(2);
  });

  it("an identical payload at the same clock calls nobody and writes nothing", async () => {
    const userSync = plugin();
    await deliver(userSync, ada, "msg_first");
    const before = await row();
    expect(await deliver(userSync, ada, "msg_again")).toMatchObject({ body: { outcome: "unchanged" } });
    expect((await row())?.xmin).toBe(before?.xmin);
    expect(clerk.getUserCalls()).toBe(0);
  });

  it("when Clerk cannot answer, nothing is recorded and the delivery answers 503, so Svix's retry settles it", async () => {
    const userSync = plugin();
    await deliver(userSync, ada, "msg_first");
    const switched = { ...ada, email: "ada@new.example" };
    clerk.setUser(switched);
    clerk.setFault({ kind: "status", status: 503 });
    expect(await deliver(userSync, switched, "msg_switch")).toMatchObject({ status: 503 });
    expect(await inboxOutcome("msg_switch")).toBeNull();
    expect(await row()).toMatchObject({ email: "ada@old.example" });

    clerk.setFault(null);
    expect(await deliver(userSync, switched, "msg_switch")).toMatchObject({ status: 200, body: { outcome: "updated" } });
    expect(await row()).toMatchObject({ email: "ada@new.example" });
  });
});

describe("Clerk's user states and phone number in the mirror", () => {
  it("user.sync and webhooks write banned, locked and the primary phone; a tombstone clears them", async () => {
    const userSync = plugin();
    const katherine: ClerkUserInput = { id: "user_katherine", email: null, phone: "+15555550100", firstName: "Katherine", updatedAtMs: 1_000 };
    clerk.setUser(katherine);
    await userSync.service.syncUser(katherine.id, { sessionToken: mintSessionToken({ userId: katherine.id }) });
    expect(await row(katherine.id)).toMatchObject({ email: null, phone_number: "+15555550100", banned: false, locked: false });

    expect(await deliver(userSync, { ...katherine, locked: true, updatedAtMs: 2_000 }, "msg_locked")).toMatchObject({ body: { outcome: "updated" } });
    expect(await row(katherine.id)).toMatchObject({ locked: true, banned: false });
    expect(await deliver(userSync, { ...katherine, locked: false, updatedAtMs: 3_000 }, "msg_unlocked")).toMatchObject({ body: { outcome: "updated" } });
    expect(await row(katherine.id)).toMatchObject({ locked: false });

    clerk.setUser({ ...katherine, banned: true, updatedAtMs: 4_000 });
    const synced = await userSync.service.syncUser(katherine.id, { sessionToken: mintSessionToken({ userId: katherine.id }) });
    expect(synced.outcome).toBe("updated");
    expect(await row(katherine.id)).toMatchObject({ banned: true, phone_number: "+15555550100" });

    clerk.users.delete(katherine.id);
    await userSync.service.syncUser(katherine.id, { sessionToken: mintSessionToken({ userId: katherine.id }) });
    expect(await row(katherine.id)).toMatchObject({ banned: false, locked: false, phone_number: null });
  });
});
