import { verifyToken } from "@clerk/backend";
import { ClerkAPIResponseError, TokenVerificationError } from "@clerk/backend/errors";
import { verifyWebhook } from "@clerk/backend/webhooks";
import { describe, expect, it } from "vitest";

import { defaultRateLimits, RateLimiter, rateLimitsFromEnv } from "./rate-limits";
import { startTestEmulator, withTestEmulator, type TestEmulator } from "./test-support";
import type { UserJson } from "./users";

// What the emulator sends has to be what Clerk's own SDKs accept, errors included: every
// check here goes through @clerk/backend (createClerkClient, verifyToken, verifyWebhook).

let t: TestEmulator;
withTestEmulator((started) => (t = started));

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function clerkError(promise: Promise<unknown>) {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(ClerkAPIResponseError);
  return error as ClerkAPIResponseError;
}

/** Clerk's `meta.param_name`, as the SDK reads it. */
const paramName = (error: ClerkAPIResponseError) => (error.errors[0]?.meta as { paramName?: string } | undefined)?.paramName;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The webhooks received, verified with Clerk's verifyWebhook as the app's route would. */
async function verifiedEvents() {
  await t.control.webhooksIdle();
  const signingSecret = t.emulator.identity.webhookSigningSecret;
  return Promise.all(t.received.map(async (webhook) => ({ webhook, event: await verifyWebhook(t.asRequest(webhook), { signingSecret }) })));
}

describe("keys and instances", () => {
  it("answers a secret key that is not its own with Clerk's 401, which the SDK reads as an invalid key", async () => {
    const error = await clerkError(t.clerk("sk_live_not_this_instance").users.getUser("user_demo_ada"));
    expect(error.status).toBe(401);
    expect(error.errors[0]?.code).toBe("clerk_key_invalid");

    const { token } = await t.control.createSession("user_demo_ada");
    const verification = await rejection(verifyToken(token, { secretKey: "sk_live_not_this_instance", apiUrl: t.emulator.origin }));
    expect(verification).toBeInstanceOf(TokenVerificationError);
    expect((verification as TokenVerificationError).reason).toBe("secret-key-invalid");

    const missing = await fetch(`${t.emulator.origin}/v1/users/user_demo_ada`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ errors: [{ code: "authentication_invalid" }], clerk_trace_id: expect.any(String) as string });
    expect(await t.control.count("getUser")).toBe(0);
  });

  it("serves its own key at GET /v1/jwks: the SDK verifies its session tokens with the secret key alone", async () => {
    const { keys } = await t.clerk().jwks.getJwks();
    expect(keys?.map((key) => key.kid)).toEqual([t.emulator.identity.keyId]);
    const { token, sessionId } = await t.control.createSession("user_demo_ada");
    const claims = await verifyToken(token, { secretKey: t.emulator.identity.secretKey, apiUrl: t.emulator.origin, skipJwksCache: true });
    expect(claims).toMatchObject({ sub: "user_demo_ada", sid: sessionId });
  });

  it("switched to another instance: another key in its JWKS and none of this instance's users", async () => {
    const clerk = t.clerk();
    const { token } = await t.control.createSession("user_demo_ada");
    const other = await t.control.setInstance("other");
    expect(other.keyId).not.toBe(t.emulator.identity.keyId);

    const { keys } = await clerk.jwks.getJwks();
    expect(keys?.map((key) => key.kid)).toEqual([other.keyId]);
    // An app configured this way from the start: the SDK's JWKS cache (per API URL) never saw this instance's key.
    const apiUrl = t.emulator.origin.replace("localhost", "127.0.0.1");
    const verification = await rejection(verifyToken(token, { secretKey: t.emulator.identity.secretKey, apiUrl }));
    expect((verification as TokenVerificationError).reason).toBe("jwk-kid-mismatch");

    const notFound = await clerkError(clerk.users.getUser("user_demo_ada"));
    expect(notFound.status).toBe(404);
    expect(notFound.errors[0]?.code).toBe("resource_not_found");
    expect(await clerk.users.getUserList()).toEqual({ data: [], totalCount: 0 });
    // Its own users are its own: created there, invisible here, and no webhook to this app.
    const stranger = await clerk.users.createUser({ emailAddress: ["stranger@example.com"] });
    await t.control.setInstance("self");
    expect((await clerkError(clerk.users.getUser(stranger.id))).status).toBe(404);
    expect((await clerk.users.getUser("user_demo_ada")).id).toBe("user_demo_ada");
    expect(await t.control.deliveries()).toEqual([]);
  });

  it("can answer like a wrong URL or a proxy: an HTML 404 that is not Clerk's resource_not_found", async () => {
    await t.control.setFault({ endpoint: "getUser", htmlNotFound: true });
    const error = await clerkError(t.clerk().users.getUser("user_demo_ada"));
    expect(error.status).toBe(404);
    expect(error.errors).toEqual([]);
  });
});

describe("rate limits", () => {
  it("defaults to Clerk's limits for the key's instance type, and reads an override from the environment", async () => {
    expect(defaultRateLimits("sk_live_x")).toEqual({ enabled: true, windowMs: 10_000, instanceRequests: 1000, userUpdateRequests: 10 });
    expect(defaultRateLimits("sk_test_x").instanceRequests).toBe(100);
    expect(await t.control.rateLimits()).toEqual(defaultRateLimits(t.emulator.identity.secretKey));
    expect(rateLimitsFromEnv("off")).toEqual({ enabled: false });
    expect(rateLimitsFromEnv("250")).toEqual({ instanceRequests: 250 });
    expect(() => rateLimitsFromEnv("many")).toThrow(/CLERK_EMULATOR_RATE_LIMITS/);
  });

  it("a development instance takes 100 requests per 10 s, then answers 429 with Retry-After, which the SDK exposes", async () => {
    const dev = await startTestEmulator({ secretKey: "sk_test_clerk_emulator" });
    try {
      const clerk = dev.clerk();
      for (let i = 0; i < 100; i++) await clerk.users.getUser("user_demo_ada");
      const error = await clerkError(clerk.users.getUser("user_demo_ada"));
      expect(error.status).toBe(429);
      expect(error.errors[0]?.code).toBe("too_many_requests");
      expect(error.retryAfter).toBeGreaterThanOrEqual(1);
      expect(error.retryAfter).toBeLessThanOrEqual(10);
      // Every endpoint shares the instance's budget.
      expect((await clerkError(clerk.users.getCount())).status).toBe(429);

      await dev.control.setRateLimits({ enabled: false });
      expect((await clerk.users.getUser("user_demo_ada")).id).toBe("user_demo_ada");
    } finally {
      await dev.stop();
    }
  });

  it("PATCH /v1/users/:id takes 10 requests per 10 s per user", async () => {
    const clerk = t.clerk();
    for (let i = 0; i < 10; i++) await clerk.users.updateUser("user_demo_ada", { firstName: `Ada ${i}` });
    const error = await clerkError(clerk.users.updateUser("user_demo_ada", { firstName: "Ada 10" }));
    expect(error.status).toBe(429);
    expect(error.errors[0]?.code).toBe("too_many_requests");
    expect(error.retryAfter).toBeGreaterThanOrEqual(1);
    expect((await clerk.users.getUser("user_demo_ada")).firstName).toBe("Ada 9");
    // Another user, and other endpoints, are not limited by it.
    expect((await clerk.users.updateUser("user_demo_grace", { firstName: "Amazing Grace" })).firstName).toBe("Amazing Grace");
  });

  it("counts a sliding window: Retry-After is the whole seconds until the oldest request leaves it", () => {
    let nowMs = 0;
    const limiter = new RateLimiter({ enabled: true, windowMs: 10_000, instanceRequests: 2, userUpdateRequests: 1 }, () => nowMs);
    const bucket = [{ key: "instance", limit: 2 }];
    expect(limiter.take(bucket)).toBeNull();
    nowMs = 4_000;
    expect(limiter.take(bucket)).toBeNull();
    nowMs = 5_000;
    expect(limiter.take(bucket)).toBe(5);
    nowMs = 9_500;
    expect(limiter.take(bucket)).toBe(1);
    nowMs = 10_001;
    expect(limiter.take(bucket)).toBeNull();
    expect(limiter.take(bucket)).toBe(4);
  });
});

describe("clocks", () => {
  it("a sign-in sets last_sign_in_at and last_active_at and bumps updated_at, with no webhook", async () => {
    const clerk = t.clerk();
    const before = await clerk.users.getUser("user_demo_grace");
    expect(before.lastSignInAt).toBeNull();
    await sleep(5);
    await t.control.createSession("user_demo_grace");
    const after = await clerk.users.getUser("user_demo_grace");
    expect(after.lastSignInAt).toBeGreaterThan(before.updatedAt);
    expect(after.lastActiveAt).toBeGreaterThanOrEqual(after.lastSignInAt!);
    expect(after.updatedAt).toBeGreaterThanOrEqual(after.lastSignInAt!);
    expect([after.firstName, after.primaryEmailAddress?.emailAddress]).toEqual([before.firstName, before.primaryEmailAddress?.emailAddress]);
    expect(await t.control.deliveries()).toEqual([]);
  });

  it("any change to the user bumps updated_at, and its user.updated carries that clock", async () => {
    const clerk = t.clerk();
    const before = await clerk.users.getUser("user_demo_alan");
    await sleep(5);
    const after = await clerk.users.updateUserMetadata("user_demo_alan", { publicMetadata: { plan: "pro" } });
    expect(after.updatedAt).toBeGreaterThan(before.updatedAt);
    const events = await verifiedEvents();
    expect(events.map(({ event }) => [event.type, (event.data as unknown as UserJson).updated_at])).toEqual([["user.updated", after.updatedAt]]);
  });
});

describe("email addresses", () => {
  it("seeds the users a real instance has: several addresses (primary not first), phone-only, banned, admin, never signed in", async () => {
    const clerk = t.clerk();
    const edsger = await clerk.users.getUser("user_demo_edsger");
    expect(edsger.emailAddresses.map((a) => a.emailAddress)).toEqual(["ewd@utexas.example.com", "edsger@example.com"]);
    expect(edsger.primaryEmailAddress?.emailAddress).toBe("edsger@example.com");
    const katherine = await clerk.users.getUser("user_demo_katherine");
    expect([katherine.emailAddresses, katherine.primaryEmailAddress]).toEqual([[], null]);
    expect(katherine.primaryPhoneNumber?.phoneNumber).toBe("+15555550142");
    expect((await clerk.users.getUser("user_demo_mallory")).banned).toBe(true);
    expect((await clerk.users.getUser("user_demo_margaret")).publicMetadata).toEqual({ role: "admin" });
    const everyone = await clerk.users.getUserList({ limit: 100 });
    expect(everyone.data.every((user) => user.lastSignInAt === null)).toBe(true);
    expect(everyone.totalCount).toBe(8);
    // The control API shows the same users.
    expect((await t.control.user("user_demo_edsger")).primary_email_address_id).toBe(edsger.primaryEmailAddressId);
    await expect(t.control.user("user_missing")).rejects.toThrow(/404/);
  });

  /** What a user.updated says about the addresses: the primary, and each address with its status. */
  const addressView = (data: UserJson) => ({
    primary: data.email_addresses.find((a) => a.id === data.primary_email_address_id)?.email_address,
    addresses: data.email_addresses.map((a) => `${a.email_address} ${a.verification.status}`),
  });

  it("changes a primary email in three user.updated steps (add unverified, verify, make primary), keeping the old address, as Clerk does", async () => {
    const before = await t.control.user("user_demo_ada");
    const { user, deliveries } = await t.control.changePrimaryEmail("user_demo_ada", "augusta@example.com");
    expect(deliveries.map((d) => d.type)).toEqual(["user.updated", "user.updated", "user.updated"]);

    const states = (await verifiedEvents()).map(({ event }) => event.data as unknown as UserJson);
    expect(states.map(addressView)).toEqual([
      { primary: "ada@example.com", addresses: ["ada@example.com verified", "augusta@example.com unverified"] },
      { primary: "ada@example.com", addresses: ["ada@example.com verified", "augusta@example.com verified"] },
      { primary: "augusta@example.com", addresses: ["ada@example.com verified", "augusta@example.com verified"] },
    ]);
    // By default adding and verifying leave the user's clock; the switch of primary moves it.
    expect(states.map((data) => data.updated_at > before.updated_at)).toEqual([false, false, true]);
    expect(user.updated_at).toBe(states[2]!.updated_at);
    expect((await t.clerk().users.getUser("user_demo_ada")).emailAddresses.map((a) => a.emailAddress)).toEqual(["ada@example.com", "augusta@example.com"]);
  });

  it("deletes the old address as a fourth step when asked; deleting moves the clock", async () => {
    const { user, deliveries } = await t.control.changePrimaryEmail("user_demo_ada", "augusta@example.com", { deleteOld: true });
    expect(deliveries).toHaveLength(4);
    const states = (await verifiedEvents()).map(({ event }) => event.data as unknown as UserJson);
    expect(addressView(states[3]!)).toEqual({ primary: "augusta@example.com", addresses: ["augusta@example.com verified"] });
    expect(states[3]!.updated_at).toBeGreaterThan(states[2]!.updated_at);
    expect(user.email_addresses.map((a) => a.email_address)).toEqual(["augusta@example.com"]);
    expect(new Set((await verifiedEvents()).map(({ webhook }) => webhook.headers["svix-id"])).size).toBe(4);
  });

  it("moves the clock at each step as the fidelity switches say, and still sends a user.updated for every step", async () => {
    for (const [verifyBumpsClock, primarySwitchBumpsClock] of [
      [true, true],
      [false, false],
      [true, false],
    ] as const) {
      await t.control.reset();
      t.received.length = 0;
      await t.control.setFidelity({ verifyBumpsClock, primarySwitchBumpsClock });
      const before = await t.control.user("user_demo_grace");
      const { deliveries } = await t.control.changePrimaryEmail("user_demo_grace", "amazing@example.com");
      const clocks = (await verifiedEvents()).map(({ event }) => (event.data as unknown as UserJson).updated_at);
      expect({ verifyBumpsClock, primarySwitchBumpsClock, steps: deliveries.length, moved: clocks.map((clock, i) => clock > (clocks[i - 1] ?? before.updated_at)) }).toEqual({
        verifyBumpsClock,
        primarySwitchBumpsClock,
        steps: 3,
        moved: [false, verifyBumpsClock, primarySwitchBumpsClock],
      });
    }
  });

  it("takes Backend API email address changes one request at a time, refusing an unverified primary", async () => {
    const clerk = t.clerk();
    const added = await clerk.emailAddresses.createEmailAddress({ userId: "user_demo_grace", emailAddress: "amazing@example.com" });
    expect(added.verification?.status).toBe("unverified");
    const refused = await clerkError(clerk.emailAddresses.updateEmailAddress(added.id, { primary: true }));
    expect(refused.status).toBe(422);
    expect(paramName(refused)).toBe("primary_email_address_id");

    await clerk.emailAddresses.updateEmailAddress(added.id, { verified: true });
    const old = (await clerk.users.getUser("user_demo_grace")).primaryEmailAddressId!;
    await clerk.users.updateUser("user_demo_grace", { primaryEmailAddressID: added.id });
    expect((await clerk.emailAddresses.deleteEmailAddress(old)).deleted).toBe(true);
    const grace = await clerk.users.getUser("user_demo_grace");
    expect(grace.emailAddresses.map((a) => a.emailAddress)).toEqual(["amazing@example.com"]);
    expect((await verifiedEvents()).map(({ event }) => event.type)).toEqual(["user.updated", "user.updated", "user.updated", "user.updated"]);
  });

  it("keeps verified addresses unique across the instance; an unverified one may be held by several users, as on Clerk", async () => {
    const clerk = t.clerk();
    const error = await clerkError(clerk.users.createUser({ emailAddress: ["ADA@example.com"] }));
    expect([error.status, error.errors[0]?.code, paramName(error)]).toEqual([422, "form_identifier_exists", "email_address"]);
    await expect(t.control.changePrimaryEmail("user_demo_grace", "ada@example.com")).rejects.toThrow(/422/);

    const grace = await clerk.emailAddresses.createEmailAddress({ userId: "user_demo_grace", emailAddress: "shared@example.com" });
    const alan = await clerk.emailAddresses.createEmailAddress({ userId: "user_demo_alan", emailAddress: "Shared@example.com" });
    expect([grace.verification?.status, alan.verification?.status]).toEqual(["unverified", "unverified"]);
    expect((await clerk.users.getUserList({ emailAddress: ["shared@example.com"] })).data.map((u) => u.id).sort()).toEqual(["user_demo_alan", "user_demo_grace"]);
    // Once one of them verifies it, it is theirs: the other cannot verify it, nobody can add it.
    await clerk.emailAddresses.updateEmailAddress(grace.id, { verified: true });
    const refused = await clerkError(clerk.emailAddresses.updateEmailAddress(alan.id, { verified: true }));
    expect([refused.status, refused.errors[0]?.code]).toEqual([422, "form_identifier_exists"]);
    expect((await clerkError(clerk.emailAddresses.createEmailAddress({ userId: "user_demo_ada", emailAddress: "shared@example.com" }))).status).toBe(422);
  });

  it("keeps usernames unique across the instance, without regard to case: Clerk's 422 on username", async () => {
    const error = await clerkError(t.clerk().users.updateUser("user_demo_alan", { firstName: "Al", username: "GRACE" }));
    expect(error.status).toBe(422);
    expect(error.errors[0]?.code).toBe("form_identifier_exists");
    expect(paramName(error)).toBe("username");
    expect((await t.clerk().users.getUser("user_demo_alan")).firstName).toBe("Alan");
    // A user may keep (or re-case) their own username.
    expect((await t.clerk().users.updateUser("user_demo_grace", { username: "Grace" })).username).toBe("Grace");
  });

  it("bans through the Backend API: sessions end, sign-in is refused, unban lets the user back", async () => {
    const clerk = t.clerk();
    expect((await clerk.users.banUser("user_demo_alan")).banned).toBe(true);
    await expect(t.control.createSession("user_demo_alan")).rejects.toThrow(/403/);
    expect((await clerk.users.unbanUser("user_demo_alan")).banned).toBe(false);
    expect((await t.control.createSession("user_demo_alan")).sessionId).toMatch(/^sess_/);
  });
});

describe("replays", () => {
  it("replays a delivery with the same svix-id and a fresh timestamp and signature; sends it again as a new message", async () => {
    await t.control.updateUser("user_demo_ada", { firstName: "Augusta" });
    const [original] = await t.control.webhooksIdle();
    // svix-timestamp is in seconds: let one pass so the replay's is visibly fresh.
    await sleep(1100);
    const replay = await t.control.replay(original!.id);
    const resend = await t.control.sendAsNew(original!.id);
    expect([replay.id, replay.kind]).toEqual([original!.id, "replay"]);
    expect(resend.id).not.toBe(original!.id);

    const [first, replayed, resent] = await verifiedEvents();
    expect(replayed!.webhook.headers["svix-id"]).toBe(first!.webhook.headers["svix-id"]);
    expect(Number(replayed!.webhook.headers["svix-timestamp"])).toBeGreaterThan(Number(first!.webhook.headers["svix-timestamp"]));
    expect(replayed!.webhook.headers["svix-signature"]).not.toBe(first!.webhook.headers["svix-signature"]);
    expect(replayed!.webhook.body).toBe(first!.webhook.body);
    expect(resent!.webhook.headers["svix-id"]).toBe(resend.id);
    expect(resent!.webhook.body).toBe(first!.webhook.body);
  });
});

describe("lists", () => {
  /** Users with distinct clocks: created apart, some signed in, some changed. */
  async function spreadClocks() {
    for (const id of ["user_demo_alan", "user_demo_ada", "user_demo_barbara"]) {
      await sleep(3);
      await t.control.createSession(id);
    }
    for (const id of ["user_demo_grace", "user_demo_alan"]) {
      await sleep(3);
      await t.control.updateUser(id, { username: `${id.slice(10)}2` });
    }
    await sleep(3);
    await t.control.createUser({ email: "late@example.com", firstName: "Late" });
  }

  const keyOf = {
    created_at: (u: UserJson) => u.created_at,
    updated_at: (u: UserJson) => u.updated_at,
    last_sign_in_at: (u: UserJson) => u.last_sign_in_at,
  };

  it("pages by limit and offset in every order_by form, ties broken by id", async () => {
    await spreadClocks();
    const all = await t.control.users();
    const clerk = t.clerk();
    for (const field of ["created_at", "updated_at", "last_sign_in_at"] as const) {
      // Never signed in (null) sorts lowest.
      const ascending = [...all].sort((a, b) => (keyOf[field](a) ?? -1) - (keyOf[field](b) ?? -1) || (a.id < b.id ? -1 : 1)).map((u) => u.id);
      for (const [orderBy, expected] of [
        [field, ascending],
        [`+${field}`, ascending],
        [`-${field}`, [...ascending].reverse()],
      ] as const) {
        const pages: string[] = [];
        for (let offset = 0; offset < all.length; offset += 4) {
          const page = await clerk.users.getUserList({ orderBy, limit: 4, offset });
          expect(page.totalCount).toBe(all.length);
          pages.push(...page.data.map((u) => u.id));
        }
        expect({ orderBy, ids: pages }).toEqual({ orderBy, ids: expected });
      }
    }
    // The default is -created_at.
    expect((await clerk.users.getUserList({ limit: 1 })).data[0]?.primaryEmailAddress?.emailAddress).toBe("late@example.com");
  });

  it("answers an unknown order_by and more than 100 ids with Clerk's 422", async () => {
    const clerk = t.clerk();
    const badOrder = await clerkError(clerk.users.getUserList({ orderBy: "-name" as "-created_at" }));
    expect([badOrder.status, badOrder.errors[0]?.code, paramName(badOrder)]).toEqual([422, "form_param_value_invalid", "order_by"]);
    const ids = Array.from({ length: 101 }, (_, i) => `user_${i}`);
    const tooMany = await clerkError(clerk.users.getUserList({ userId: ids }));
    expect([tooMany.status, paramName(tooMany)]).toEqual([422, "user_id"]);
  });

  it("filters by repeated user_id, email_address and query, and the count honours the same filters", async () => {
    const clerk = t.clerk();
    const byId = await clerk.users.getUserList({ userId: ["user_demo_grace", "user_demo_ada", "user_missing"], orderBy: "+created_at" });
    expect(byId.data.map((u) => u.id).sort()).toEqual(["user_demo_ada", "user_demo_grace"]);
    expect(byId.totalCount).toBe(2);
    // Any of the user's addresses matches, not only the primary one.
    const byEmail = await clerk.users.getUserList({ emailAddress: ["EWD@utexas.example.com"] });
    expect(byEmail.data.map((u) => u.id)).toEqual(["user_demo_edsger"]);
    expect(await clerk.users.getCount({ emailAddress: ["ada@example.com", "grace@example.com"] })).toBe(2);
    expect(await clerk.users.getCount({ query: "hop" })).toBe(1);
    expect(await clerk.users.getCount({ userId: ["user_demo_ada"], query: "grace" })).toBe(0);
    expect(await clerk.users.getCount()).toBe(8);
  });

  it("seeds 100,000 users in seconds, with distinct clocks in creation order, and lists them at Clerk's page size", async () => {
    const seeded = await t.control.createUsersInBulk(100_000);
    expect(seeded).toMatchObject({ created: 100_000, totalCount: 100_008 });
    const clerk = t.clerk();
    // The last page, reached by cursor (an offset this deep times out, as on Clerk).
    const before = await clerk.users.getUserList({ limit: 1, offset: 99_599, orderBy: "+created_at" }).catch((error: unknown) => error);
    expect((before as ClerkAPIResponseError).status).toBe(504);
    await t.control.setFidelity({ offsetTimeoutDepth: null });
    const [cursor] = (await clerk.users.getUserList({ limit: 1, offset: 99_599, orderBy: "+created_at" })).data;
    const startedAtMs = performance.now();
    const last = await clerk.users.getUserList({ limit: 500, orderBy: "+created_at", startingAfter: cursor!.id } as Parameters<typeof clerk.users.getUserList>[0]);
    const lastPageMs = performance.now() - startedAtMs;
    expect(last.data).toHaveLength(408);
    expect(last.totalCount).toBe(100_008);
    expect(last.data.every((user) => user.lastSignInAt === null && user.primaryEmailAddress !== null)).toBe(true);
    const clocks = last.data.map((user) => user.createdAt);
    expect(clocks.every((clock, i) => i === 0 || clock === clocks[i - 1]! + 1)).toBe(true);
    expect(last.data.every((user) => user.updatedAt === user.createdAt)).toBe(true);
    const newest = await clerk.users.getUserList({ limit: 500, orderBy: "-updated_at" });
    expect(new Set(newest.data.map((u) => u.id)).size).toBe(500);
    expect(await clerk.users.getCount({ userId: [seeded.firstId, seeded.lastId] })).toBe(2);
    // Bulk users are an import: no webhook per user.
    expect(await t.control.deliveries()).toEqual([]);
    console.log(`[figures] bulk seed of 100,000 users: ${seeded.durationMs} ms; the last 500-user page by cursor: ${Math.round(lastPageMs)} ms`);
  });
});
