/**
 * Clerk's settings are read when a request first needs them, not when `createUserSync` runs:
 * a host module creating the plugin loads without `CLERK_SECRET_KEY` (so `next build` does), a
 * missing key is `CLERK_NOT_CONFIGURED` at the first `user.sync` and in the health view, and a
 * key set later is used by the same instance. A context without `auth` (a JavaScript host,
 * which the types cannot stop) is an error naming what to add, not a TypeError.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { setupServer } from "msw/node";
import { afterEach, describe, expect, it, vi } from "vitest";

import { createClerkBackend, mintSessionToken, testUsers as users } from "../testing";
import { integrationHarness } from "./test-database";

import { UserSyncError } from "./errors";
import { createUserSync } from "./index";

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
const testDb = integrationHarness("clerk_settings", server, { reset: () => clerk.reset() });
afterEach(() => vi.unstubAllEnvs());

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };
const t = initTRPC.context<{ auth: { userId: string | null; getToken: () => Promise<string | null> } }>().create();

function hostCaller(userSync: ReturnType<typeof createUserSync<typeof users>>, userId: string) {
  const appRouter = t.router({ user: userSync.router(t.router) });
  const token = mintSessionToken({ userId });
  return t.createCallerFactory(appRouter)({ auth: { userId, getToken: () => Promise.resolve(token) } });
}

describe("Clerk's secret key is read at first use", () => {
  it("without CLERK_SECRET_KEY the plugin is created, user.sync fails with CLERK_NOT_CONFIGURED before calling Clerk, and health names it", async () => {
    vi.stubEnv("CLERK_SECRET_KEY", "");
    const userSync = createUserSync({ db: () => Promise.resolve(testDb.db), users, telemetry: false });
    clerk.setUser(ada);

    const failure = await hostCaller(userSync, ada.id)
      .user.sync()
      .then(() => null, (error: unknown) => error);
    expect(failure).toBeInstanceOf(TRPCError);
    expect((failure as TRPCError).code).toBe("INTERNAL_SERVER_ERROR");
    expect((failure as TRPCError).message).toContain("CLERK_SECRET_KEY is not set");
    expect((failure as TRPCError).cause).toBeInstanceOf(UserSyncError);
    expect((failure as TRPCError).cause).toMatchObject({ code: "CLERK_NOT_CONFIGURED" });
    expect(clerk.getUserCalls()).toBe(0);
    expect(await testDb.client`select id from users`).toEqual([]);

    const report = await userSync.health.check();
    expect(report.configOk).toBe(false);
    expect(report.status).toBe("failing");
    expect(report.problems).toContainEqual("config: CLERK_NOT_CONFIGURED: CLERK_SECRET_KEY is not set (or pass clerk.secretKey to createUserSync)");
  });

  it("a key set after the plugin was created is the one the same instance uses", async () => {
    vi.stubEnv("CLERK_SECRET_KEY", "");
    const userSync = createUserSync({ db: () => Promise.resolve(testDb.db), users, telemetry: false });
    clerk.setUser(ada);
    vi.unstubAllEnvs();

    expect(await hostCaller(userSync, ada.id).user.sync()).toMatchObject({ outcome: "created", user: { id: ada.id, email: ada.email } });
    expect(clerk.getUserCalls()).toBe(1);
    const report = await userSync.health.check();
    expect(report.problems.filter((problem) => problem.includes("CLERK_NOT_CONFIGURED"))).toEqual([]);
  });
});

describe("a context without Clerk's auth", () => {
  it("user.sync answers an error naming what to add to createTRPCContext, and writes nothing", async () => {
    const userSync = createUserSync({ db: () => Promise.resolve(testDb.db), users, telemetry: false });
    const untyped = initTRPC.context<object>().create();
    // A JavaScript host: nothing stops this mount at compile time.
    const mount = userSync.router as unknown as (createRouter: typeof untyped.router) => typeof untyped.router extends (...args: never[]) => infer R ? R : never;
    const caller = untyped.createCallerFactory(untyped.router({ user: mount(untyped.router) }))({}) as unknown as {
      user: { sync: () => Promise<unknown> };
    };
    const failure = await caller.user.sync().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TRPCError);
    expect((failure as TRPCError).code).toBe("INTERNAL_SERVER_ERROR");
    expect((failure as TRPCError).message).toContain("return { auth: await auth() }");
    expect(clerk.getUserCalls()).toBe(0);
  });
});
