import type { ClerkAPIResponseError } from "@clerk/backend/errors";
import { describe, expect, it } from "vitest";

import { defaultFidelity, fidelityFromEnv } from "./fidelity";
import { withTestEmulator, type TestEmulator } from "./test-support";
import type { UserJson } from "./users";

// The emulator's answers where the product meets Clerk's less friendly sides: locked and
// deprovisioned users, imports, its own key id, the control API's vocabulary and switches.
// The Backend API's documented behaviour is checked by the contract suite (../contract).

let t: TestEmulator;
withTestEmulator((started) => (t = started));

/** A control API call as a script would make it, without the typed client. */
async function control(method: string, path: string, body?: unknown) {
  const response = await fetch(`${t.emulator.origin}/__control${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { errors?: { code: string; long_message: string; meta: { param_name?: string } }[] } & Record<string, unknown> };
}

/** The Frontend API as the browser holding `cookies` sees it. */
async function fapi(method: string, path: string, cookies: { name: string; value: string }[]) {
  const response = await fetch(`${t.emulator.origin}/__clerk${path}`, { method, headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; ") } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the control API speaks Clerk's field names", () => {
  it("creates and updates users with snake_case fields, and refuses a name it does not know with Clerk's 422", async () => {
    const created = await control("POST", "/users", { email_address: ["nova@example.com"], first_name: "Nova", public_metadata: { role: "admin" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ first_name: "Nova", public_metadata: { role: "admin" } });

    const camel = await control("POST", "/users", { email_address: "otto@example.com", firstName: "Otto" });
    expect(camel.status).toBe(422);
    expect(camel.body.errors?.[0]).toMatchObject({ code: "form_param_unknown", meta: { param_name: "firstName" } });
    expect(camel.body.errors?.[0]?.long_message).toMatch(/firstName is not a valid parameter.*first_name/);
    expect((await t.control.users()).some((user) => user.first_name === "Otto")).toBe(false);

    const patched = await control("PATCH", `/users/${created.body.id as string}`, { last_name: "Newcomer", email: "x@example.com" });
    expect([patched.status, patched.body.errors?.[0]?.meta.param_name]).toEqual([422, "email"]);
    expect((await t.control.user(created.body.id as string)).last_name).toBeNull();
    expect((await control("PUT", "/webhooks", { dropped: true })).status).toBe(422);
    expect((await control("PUT", "/faults", { endpoint: "getUsers", status: 500 })).status).toBe(422);
  });

  it("the typed client takes @clerk/backend's camelCase and sends Clerk's names", async () => {
    const user = await t.control.createUser({ email: "nova@example.com", firstName: "Nova", externalId: "ext_1", privateMetadata: { plan: "pro" } });
    expect(user).toMatchObject({ first_name: "Nova", external_id: "ext_1", private_metadata: { plan: "pro" } });
    expect(await t.control.updateUser(user.id, { lastName: "Newcomer", publicMetadata: { role: "admin" } })).toMatchObject({
      last_name: "Newcomer",
      public_metadata: { role: "admin" },
    });
  });
});

describe("fidelity switches", () => {
  it("start at their documented defaults, change through the control API, refuse bad values, and return on reset", async () => {
    expect(await t.control.fidelity()).toEqual(defaultFidelity);
    expect(await t.control.setFidelity({ primarySwitchBumpsClock: false, offsetTimeoutDepth: null })).toMatchObject({ primarySwitchBumpsClock: false, offsetTimeoutDepth: null });
    const bad = await control("PUT", "/fidelity", { startingAfterUnknownUser: "skip" });
    expect([bad.status, bad.body.errors?.[0]?.code, bad.body.errors?.[0]?.meta.param_name]).toEqual([422, "form_param_value_invalid", "startingAfterUnknownUser"]);
    expect((await control("PUT", "/fidelity", { verifyBumpsClocks: true })).body.errors?.[0]?.code).toBe("form_param_unknown");
    await t.control.reset();
    expect(await t.control.fidelity()).toEqual(defaultFidelity);
  });

  it("flip from the web page too", async () => {
    const form = new URLSearchParams({ primary_switch_bumps_clock: "on", starting_after_unknown_user: "continue", offset_timeout_depth: "", lockout_seconds: "60" });
    const response = await fetch(`${t.emulator.origin}/ui/fidelity`, { method: "POST", body: form, redirect: "manual" });
    expect(response.status).toBe(303);
    expect(await t.control.fidelity()).toMatchObject({ verifyBumpsClock: false, primarySwitchBumpsClock: true, startingAfterUnknownUser: "continue", offsetTimeoutDepth: null, lockoutSeconds: 60 });
    expect(await (await fetch(`${t.emulator.origin}/`)).text()).toContain("a primary switch moves <code>updated_at</code>");
  });

  it("read from CLERK_EMULATOR_<NAME>, with a clear message for a bad value", () => {
    expect(fidelityFromEnv({ CLERK_EMULATOR_PRIMARY_SWITCH_BUMPS_CLOCK: "false", CLERK_EMULATOR_OFFSET_TIMEOUT_DEPTH: "off", CLERK_EMULATOR_LOCKOUT_SECONDS: "60" })).toEqual({
      primarySwitchBumpsClock: false,
      offsetTimeoutDepth: null,
      lockoutSeconds: 60,
    });
    expect(() => fidelityFromEnv({ CLERK_EMULATOR_VERIFY_BUMPS_CLOCK: "yes" })).toThrow(/CLERK_EMULATOR_VERIFY_BUMPS_CLOCK: verifyBumpsClock must be true or false/);
  });
});

describe("user states", () => {
  it("a locked user keeps their sessions but cannot sign in again until the lock is lifted", async () => {
    const { cookies, sessionId } = await t.control.createSession("user_demo_ada");
    const locked = (await t.clerk().users.lockUser("user_demo_ada")).raw as unknown as UserJson;
    expect(locked).toMatchObject({ locked: true, banned: false });
    expect(locked.lockout_expires_in_seconds).toBeGreaterThan(3590);
    expect(locked.lockout_expires_in_seconds).toBeLessThanOrEqual(3600);

    await expect(t.control.createSession("user_demo_ada")).rejects.toThrow(/403 .*user_locked/);
    const refreshed = await fapi("POST", `/v1/client/sessions/${sessionId}/tokens`, cookies);
    expect([refreshed.status, typeof refreshed.body.jwt]).toEqual([200, "string"]);

    expect((await t.clerk().users.unlockUser("user_demo_ada")).locked).toBe(false);
    expect((await t.control.createSession("user_demo_ada")).sessionId).toMatch(/^sess_/);
    expect((await t.control.webhooksIdle()).map((d) => d.type)).toEqual(["user.updated", "user.updated"]);
  });

  it("a lock lasts the instance's lockout: none (null) never expires; an expired lock no longer refuses", async () => {
    await t.control.setFidelity({ lockoutSeconds: null });
    expect(await t.control.updateUser("user_demo_grace", { locked: true })).toMatchObject({ locked: true, lockout_expires_in_seconds: null });
    await t.control.setFidelity({ lockoutSeconds: 0 });
    expect(await t.control.updateUser("user_demo_alan", { locked: true })).toMatchObject({ locked: false, lockout_expires_in_seconds: null });
    expect((await t.control.createSession("user_demo_alan")).sessionId).toMatch(/^sess_/);
  });

  it("a deprovisioned user (directory sync) loses their sessions and cannot sign in; a user.updated says so", async () => {
    const { cookies, sessionId } = await t.control.createSession("user_demo_grace");
    expect(await t.control.updateUser("user_demo_grace", { deprovisioned: true })).toMatchObject({ deprovisioned: true });
    expect((await fapi("POST", `/v1/client/sessions/${sessionId}/tokens`, cookies)).status).toBe(401);
    await expect(t.control.createSession("user_demo_grace")).rejects.toThrow(/403 .*user_deactivated/);
    const [delivery] = await t.control.webhooksIdle();
    expect(JSON.parse(delivery!.body)).toMatchObject({ type: "user.updated", data: { id: "user_demo_grace", deprovisioned: true } });
  });
});

describe("imports and the instance's identity", () => {
  it("bulk seeding can send a user.created per user, like Clerk's createUser during an import", async () => {
    const seeded = await t.control.createUsersInBulk(5, "imported", { sendWebhooks: true });
    const deliveries = await t.control.webhooksIdle();
    expect(deliveries.map((d) => [d.type, d.status])).toEqual(Array(5).fill(["user.created", "delivered"]));
    const clocks = deliveries.map((d) => (JSON.parse(d.body) as { data: UserJson }).data.created_at);
    expect(clocks).toEqual([...clocks].sort((a, b) => a - b));
    expect(new Set(clocks).size).toBe(5);
    expect(deliveries.map((d) => d.userId)).toContain(seeded.lastId);
  });

  it("signs session tokens with kid = the instance id, the webhooks' instance_id; GET /v1/jwks is outside the rate limit", async () => {
    const { token } = await t.control.createSession("user_demo_ada");
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string };
    expect(header.kid).toBe(t.emulator.identity.instanceId);
    await t.control.updateUser("user_demo_ada", { firstName: "Augusta" });
    const [delivery] = await t.control.webhooksIdle();
    expect((JSON.parse(delivery!.body) as { instance_id: string }).instance_id).toBe(header.kid);

    await t.control.setRateLimits({ instanceRequests: 2 });
    const clerk = t.clerk();
    await clerk.users.getUser("user_demo_ada");
    await clerk.users.getUser("user_demo_ada");
    const limited = await clerk.users.getUser("user_demo_ada").catch((error: unknown) => error);
    expect((limited as ClerkAPIResponseError).status).toBe(429);
    for (let i = 0; i < 5; i++) expect((await clerk.jwks.getJwks()).keys?.map((key) => key.kid)).toEqual([header.kid]);
  });

  it("refuses metadata on PATCH /v1/users/{id} as the 2026-05-12 API does; @clerk/backend 3.20's updateUser({ publicMetadata }) replaces it through PUT …/metadata", async () => {
    const patch = await fetch(`${t.emulator.origin}/v1/users/user_demo_alan`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${t.emulator.identity.secretKey}`, "content-type": "application/json" },
      body: JSON.stringify({ first_name: "Al", public_metadata: { role: "admin" } }),
    });
    expect(patch.status).toBe(422);
    expect(await patch.json()).toMatchObject({ errors: [{ code: "form_param_unknown", meta: { param_name: "public_metadata" } }] });
    expect(await t.control.user("user_demo_alan")).toMatchObject({ first_name: "Alan", public_metadata: {} });

    await t.clerk().users.updateUserMetadata("user_demo_alan", { publicMetadata: { plan: "pro" } });
    const updated = await t.clerk().users.updateUser("user_demo_alan", { firstName: "Al", publicMetadata: { role: "admin" } });
    expect([updated.firstName, updated.publicMetadata]).toEqual(["Al", { role: "admin" }]);
    expect(await t.control.count("replaceUserMetadata")).toBe(1);
  });
});
