import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { verifyToken } from "@clerk/backend";
import { getCookieSuffix, parsePublishableKey } from "@clerk/shared/keys";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";

import { clerkEmulatorAppEnv } from "./app-env";
import { loadIdentity, publishableKeyFor } from "./identity";
import { mintSessionToken } from "./jwt";
import { UserStore } from "./users";
import { signWebhook } from "./webhooks";

// The emulator only helps if Clerk's own SDKs accept what it makes: checked here with them.
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "clerk-emulator-test-"));
afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

describe("the emulated instance", () => {
  const identity = loadIdentity(stateDir, {});

  it("has a production publishable key and the cookie suffix Clerk derives from it", async () => {
    expect(publishableKeyFor("clerk.mock.test")).toBe("pk_live_Y2xlcmsubW9jay50ZXN0JA");
    expect(parsePublishableKey(identity.publishableKey)).toEqual({ instanceType: "production", frontendApi: identity.frontendApi });
    expect(identity.cookieSuffix).toBe(await getCookieSuffix(identity.publishableKey));
  });

  it("keeps its keys and secrets across loads", () => {
    const again = loadIdentity(stateDir, {});
    expect(again.publicKeyPem).toBe(identity.publicKeyPem);
    expect(again.webhookSigningSecret).toBe(identity.webhookSigningSecret);
    expect(loadIdentity(stateDir, { CLERK_WEBHOOK_SIGNING_SECRET: "whsec_b3ZlcnJpZGU=" }).webhookSigningSecret).toBe("whsec_b3ZlcnJpZGU=");
  });

  it("mints session tokens that Clerk's verifyToken accepts with CLERK_JWT_KEY", async () => {
    const token = mintSessionToken(identity, { userId: "user_1", sessionId: "sess_1", authorizedParty: "http://localhost:3000" });
    const env = clerkEmulatorAppEnv({ port: 4001, appUrl: "http://localhost:3000", stateDir });
    const claims = await verifyToken(token, { jwtKey: env.CLERK_JWT_KEY, authorizedParties: ["http://localhost:3000"] });
    expect(claims).toMatchObject({ sub: "user_1", sid: "sess_1", iss: `https://${identity.frontendApi}`, v: 2, sts: "active" });
  });

  it("signs webhooks the way Svix does (standardwebhooks verifies them)", () => {
    const body = JSON.stringify({ type: "user.deleted", data: { id: "user_1" } });
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(timestampSeconds),
      "webhook-signature": signWebhook(identity.webhookSigningSecret, "msg_1", timestampSeconds, body),
    };
    expect(new Webhook(identity.webhookSigningSecret).verify(body, headers)).toEqual(JSON.parse(body));
  });
});

describe("UserStore", () => {
  /** A clock that returns the given times in turn, then stays on the last. */
  const clock = (...timesMs: number[]) => () => (timesMs.length > 1 ? timesMs.shift()! : timesMs[0]!);

  it("sets updated_at to the current time on every change: changes within one millisecond share it, as on Clerk", () => {
    const store = new UserStore({ seeds: [{ id: "user_a", email: "a@example.com" }], now: clock(1_000, 1_005, 1_005) });
    store.update("user_a", { firstName: "A" });
    expect(store.get("user_a")!.updatedAtMs).toBe(1_005);
    store.update("user_a", { firstName: "B" });
    expect(store.get("user_a")!.updatedAtMs).toBe(1_005);
  });

  it("records a sign-in like Clerk: last_sign_in_at, then updated_at at its own reading of the clock; last_active_at once a day", () => {
    const dayMs = 24 * 60 * 60 * 1000;
    const store = new UserStore({ seeds: [{ id: "user_a", email: "a@example.com" }], now: clock(1_000, 2_000, 2_003, 2_005, 9_000, 9_004, dayMs + 10, dayMs + 12, dayMs + 15) });
    store.recordSignIn("user_a");
    expect(store.get("user_a")).toMatchObject({ lastSignInAtMs: 2_000, updatedAtMs: 2_003, lastActiveAtMs: 2_005, createdAtMs: 1_000 });
    store.recordSignIn("user_a");
    expect(store.get("user_a")).toMatchObject({ lastSignInAtMs: 9_000, updatedAtMs: 9_004, lastActiveAtMs: 2_005 });
    store.recordSignIn("user_a");
    expect(store.get("user_a")).toMatchObject({ lastSignInAtMs: dayMs + 10, updatedAtMs: dayMs + 12, lastActiveAtMs: dayMs + 15 });
  });

  it("keeps the users in a file (saves of a burst of changes coalesce) and replaces a file of an earlier format", async () => {
    const file = path.join(stateDir, "users.json");
    fs.writeFileSync(file, JSON.stringify([{ id: "user_old", email: "old@example.com", emailAddressId: "idn_old" }]));
    const store = new UserStore({ seeds: [{ id: "user_a", email: "a@example.com" }], file, saveDelayMs: 20 });
    expect(store.get("user_old")).toBeNull();
    for (const name of ["A", "B", "C"]) store.update("user_a", { firstName: name });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const again = new UserStore({ seeds: [], file });
    expect(again.get("user_a")).toMatchObject({ firstName: "C", email: "a@example.com" });
    expect(again.list({ order: { field: "updated_at", descending: true } }).users.map((u) => u.id)).toEqual(["user_a"]);
  });
});
