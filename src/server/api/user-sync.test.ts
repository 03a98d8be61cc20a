/**
 * user.sync end to end on the server: a real HTTP request through src/proxy.ts (the real
 * clerkMiddleware verifying a session token), the tRPC route, auth(), the real Clerk Backend
 * API client against msw, and the real PostgreSQL server.
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";

import { type BackendFault, createClerkBackend, deletedEvent, mintSessionToken, signedRequest, userEvent } from "clerk-user-sync/testing";
import { integrationHarness } from "~/test/app-database";
import { sendThroughApp, trpcMutation, type TrpcEnvelope } from "~/test/next-app";

import type * as hostUserSync from "~/server/user-sync";

type UserSyncInstance = (typeof hostUserSync)["userSync"];

const clerk = createClerkBackend();
const server = setupServer(...clerk.handlers);
const testDb = integrationHarness("user_sync_route", server, { reset: () => clerk.reset(), app: true });
let route: { GET: (req: NextRequest) => Promise<Response>; POST: (req: NextRequest) => Promise<Response> };
let userSync: UserSyncInstance;

beforeAll(async () => {
  process.env.USER_SYNC_CLERK_TIMEOUT_MS = "400";
  // The app's database client: PostgreSQL cancels a statement after this long (57014, transient).
  process.env.DATABASE_STATEMENT_TIMEOUT_MS = "800";
  route = await import("~/app/api/trpc/[trpc]/route");
  ({ userSync } = await import("~/server/user-sync"));
});

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };

function sync(options: { token?: string; input?: unknown } = {}) {
  return trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: ada.id }), ...options });
}

/** `user.me` over HTTP (a tRPC GET query, no input), through the real clerkMiddleware. */
async function me(token = mintSessionToken({ userId: ada.id })) {
  const response = await sendThroughApp(route.GET, "/api/trpc/user.me", { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) as TrpcEnvelope };
}

/**
 * Runs `work` while another transaction holds an exclusive lock on `users`, so the app's
 * statements wait until PostgreSQL's statement_timeout ends them. The lock is released after
 * 3 s whatever happens, so a client without that timeout ends too (and fails the test).
 */
async function whileTableLocked<T>(work: () => Promise<T>): Promise<T> {
  const locker = await testDb.client.reserve();
  await locker`begin`;
  await locker`lock table users in access exclusive mode`;
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await locker`rollback`;
    locker.release();
  };
  const timer = setTimeout(() => void release(), 3_000);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
    await release();
  }
}

const outcomeOf = (response: Awaited<ReturnType<typeof sync>>) => (response.json.result?.data.json as { outcome: string } | undefined)?.outcome;
const userSyncCodeOf = (response: { json: TrpcEnvelope }) =>
  (response.json.error?.json.data as { userSyncCode?: string | null } | undefined)?.userSyncCode ?? null;

async function row(id = ada.id) {
  const rows = await testDb.client<
    {
      xmin: string;
      email: string | null;
      first_name: string | null;
      last_name: string | null;
      clerk_updated_at: string;
      tier: string;
      updated_at: string;
      clerk_fetched_at: string | null;
      last_sync_outcome: string | null;
      deleted_at: Date | null;
      deleted_by: string | null;
    }[]
  >`select xmin::text, email, first_name, last_name, clerk_updated_at::text, tier, updated_at::text, clerk_fetched_at::text,
      last_sync_outcome, deleted_at, deleted_by from users where id = ${id}`;
  return rows[0] ?? null;
}

/** The mirrored columns and the app-owned tier: what a failed or refused sync must leave as it was. */
async function data(id = ada.id) {
  const current = await row(id);
  if (!current) return null;
  const { email, first_name, last_name, clerk_updated_at, tier, updated_at, deleted_at, deleted_by } = current;
  return { email, first_name, last_name, clerk_updated_at, tier, updated_at, deleted_at, deleted_by };
}

describe("user.sync", () => {
  it("rejects a request without a session: 401, no Clerk call, no row", async () => {
    clerk.setUser(ada);
    const response = await trpcMutation(route.POST, "user.sync", {});
    expect(response.status).toBe(401);
    expect(response.json.error?.json.data.code).toBe("UNAUTHORIZED");
    expect(clerk.getUserCalls()).toBe(0);
    expect(await row()).toBeNull();
  });

  it("rejects a forged or expired session token: 401, no Clerk call", async () => {
    clerk.setUser(ada);
    const forged = mintSessionToken({ userId: ada.id }).replace(/\.[^.]+$/, ".c2lnbmF0dXJl");
    expect((await sync({ token: forged })).status).toBe(401);
    expect((await sync({ token: mintSessionToken({ userId: ada.id, expiresInSeconds: -60 }) })).status).toBe(401);
    expect(clerk.getUserCalls()).toBe(0);
  });

  it("creates the caller's row from Clerk's data, with the primary email", async () => {
    clerk.setUser({ ...ada, otherEmails: ["not-primary@example.com"] });
    const response = await sync();
    expect(response.status).toBe(200);
    const data = response.json.result?.data.json as { outcome: string; user: { id: string; email: string; tier: string } };
    expect(data.outcome).toBe("created");
    expect(data.user).toMatchObject({ id: ada.id, email: "ada@example.com", tier: "FREE" });
    expect(await row()).toMatchObject({ email: "ada@example.com", first_name: "Ada", last_name: "Lovelace", clerk_updated_at: "1000" });
    expect(clerk.calls[0]?.authorization).toBe(`Bearer ${process.env.CLERK_SECRET_KEY}`);
  });

  it("takes identity only from the session: a body naming another user, email or tier is rejected and changes nothing", async () => {
    clerk.setUser(ada);
    clerk.setUser({ id: "user_victim", email: "victim@example.com", updatedAtMs: 5 });
    await testDb.client`insert into users (id, email, clerk_updated_at, tier) values ('user_victim', 'victim@example.com', 5, 'PRO')`;
    const victimBefore = await row("user_victim");
    for (const input of [{ userId: "user_victim" }, { email: "evil@example.com" }, { tier: "MAXX" }, { id: "user_victim", email: "x@y.z" }]) {
      const response = await sync({ input });
      expect(response.status).toBe(400);
    }
    expect(await row("user_victim")).toEqual(victimBefore);
    expect(await row()).toBeNull();
    expect(clerk.getUserCalls()).toBe(0);
    // The caller's own sync writes only the caller's row, from Clerk's data.
    expect((await sync()).status).toBe(200);
    expect(await row()).toMatchObject({ email: "ada@example.com", tier: "FREE" });
    expect(await row("user_victim")).toEqual(victimBefore);
  });

  it("reports an identical second sync as unchanged and makes no new row version of users", async () => {
    clerk.setUser(ada);
    await sync();
    const before = await row();
    const response = await sync();
    expect((response.json.result?.data.json as { outcome: string; user: { id: string } }).outcome).toBe("unchanged");
    expect((response.json.result?.data.json as { user: { id: string } }).user.id).toBe(ada.id);
    const after = await row();
    console.info(`identical re-sync: outcome unchanged, row version (xmin) ${before?.xmin} -> ${after?.xmin}`);
    expect(clerk.getUserCalls()).toBe(2);
    // The whole row as it was: the same version (xmin), values, clocks and bookkeeping.
    expect(after).toEqual(before);
  });

  it("applies a change made in Clerk, and ignores older Clerk data", async () => {
    clerk.setUser(ada);
    await sync();
    clerk.setUser({ ...ada, lastName: "King", updatedAtMs: 2_000 });
    expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "updated" });
    expect(await row()).toMatchObject({ last_name: "King", clerk_updated_at: "2000" });
    const before = await data();
    clerk.setUser({ ...ada, lastName: "Byron", updatedAtMs: 1_500 });
    expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "stale" });
    expect(await data()).toEqual(before);
  });

  it("keeps the app-owned tier through create, update, stale and unchanged syncs", async () => {
    clerk.setUser(ada);
    await sync();
    await testDb.client`update users set tier = 'MAXX' where id = ${ada.id}`;
    for (const [lastName, updatedAtMs] of [["King", 3_000], ["Old", 2_000], ["King", 3_000]] as const) {
      clerk.setUser({ ...ada, lastName, updatedAtMs });
      const response = await sync();
      expect((response.json.result?.data.json as { user: { tier: string } }).user.tier).toBe("MAXX");
    }
    expect((await row())?.tier).toBe("MAXX");
  });

  it("tombstones the row when Clerk's own resource_not_found comes from the session's instance", async () => {
    clerk.setUser(ada);
    await sync();
    await testDb.client`update users set tier = 'PRO' where id = ${ada.id}`;
    clerk.users.delete(ada.id);
    const response = await sync();
    expect(response.status).toBe(200);
    expect(response.json.result?.data.json).toMatchObject({ outcome: "deleted" });
    // The instance was confirmed first: the session's signing key is among the API's JWKS.
    expect(clerk.jwksCalls()).toBeGreaterThanOrEqual(1);
    const tombstone = await row();
    expect(tombstone).toMatchObject({ email: null, first_name: null, last_name: null, tier: "PRO", deleted_by: "client-sync" });
    expect(tombstone?.deleted_at).not.toBeNull();
    // The tombstone keeps the newest Clerk clock it knew (not the wall clock).
    expect(tombstone?.clerk_updated_at).toBe("1000");
    // Clerk answering again with a clock that is not newer (a stale replica, a replay) does not bring it back.
    clerk.setUser({ ...ada, updatedAtMs: 1_000 });
    const again = (await sync()).json.result?.data.json as { outcome: string; user: { deletedAt: unknown } };
    expect(again.outcome).toBe("deleted");
    expect(again.user.deletedAt).not.toBeNull();
    expect((await row())?.email).toBeNull();
  });

  describe("a 404 never erases a live user by mistake", () => {
    const notClerks404s: { name: string; fault: BackendFault }[] = [
      { name: "an HTML 404 page (a proxy, a wrong CLERK_API_URL path)", fault: { kind: "html-404" } },
      { name: "a 404 with no body", fault: { kind: "bare-404" } },
      { name: "a JSON 404 whose error is not resource_not_found", fault: { kind: "status", status: 404 } },
    ];
    for (const failure of notClerks404s) {
      it(`${failure.name}: 502 BAD_GATEWAY, the row untouched`, async () => {
        clerk.setUser(ada);
        await sync();
        await testDb.client`update users set tier = 'PRO' where id = ${ada.id}`;
        const before = await data();
        clerk.setFault(failure.fault);
        const response = await sync();
        console.info(`404 case "${failure.name}": HTTP ${response.status} ${response.json.error?.json.data.code}, row ${JSON.stringify(await data()) === JSON.stringify(before) ? "untouched" : "CHANGED"}`);
        expect(response.status).toBe(502);
        expect(response.json.error?.json.data.code).toBe("BAD_GATEWAY");
        expect(await data()).toEqual(before);
        expect(clerk.jwksCalls()).toBe(0);
      });
    }

    it("a secret key of another Clerk instance (resource_not_found for every user) writes nothing: CLERK_INSTANCE_MISMATCH, logged once", async () => {
      clerk.setUser(ada);
      await sync();
      const before = await data();
      // An app process started with another instance's secret key: a fresh app, no keys cached.
      clerk.setInstance("other");
      vi.resetModules();
      const otherRoute = await import("~/app/api/trpc/[trpc]/route");
      const { userSync: otherUserSync } = await import("~/server/user-sync");
      const syncThere = () => trpcMutation(otherRoute.POST, "user.sync", { token: mintSessionToken({ userId: ada.id }) });
      const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
      try {
        const responses = [await syncThere(), await syncThere(), await syncThere()];
        for (const response of responses) {
          expect(response.status).toBe(500);
          expect(userSyncCodeOf(response)).toBe("CLERK_INSTANCE_MISMATCH");
          expect(response.json.error?.json.message).toMatch(/CLERK_SECRET_KEY .*another Clerk instance/);
          expect(JSON.stringify(response.json)).not.toContain(process.env.CLERK_SECRET_KEY);
        }
        const pluginLines = errors.mock.calls.filter((call) => call[0] === "user-sync");
        expect(pluginLines).toHaveLength(1);
        expect(String(pluginLines[0]?.[1])).toContain("CLERK_INSTANCE_MISMATCH");
        expect(errors.mock.calls.flat().join(" ")).not.toContain(process.env.CLERK_SECRET_KEY);
      } finally {
        errors.mockRestore();
      }
      expect(await data()).toEqual(before);
      expect(otherUserSync.service.configProblems()).toEqual([expect.objectContaining({ code: "CLERK_INSTANCE_MISMATCH" })]);
      console.info(`another instance's key: 3 syncs -> 3 x 500 CLERK_INSTANCE_MISMATCH, row untouched, 1 error log line`);
    });

    it("every tombstone decision fetches its own proof: a genuine 404 tombstones, then a Backend API of another instance a moment later tombstones nothing", async () => {
      const grace = { id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 1_000 };
      clerk.setUser(ada);
      clerk.setUser(grace);
      await sync();
      await trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: grace.id }) });
      // A genuine deletion: this instance's JWKS hold the session's key, so the 404 tombstones.
      clerk.users.delete(ada.id);
      expect(outcomeOf(await sync())).toBe("deleted");
      expect(clerk.jwksCalls()).toBe(1);

      // Within the same minute, in the same running app, the Backend API starts answering as another
      // instance (a proxy re-routed, a key swapped without a restart): every user is resource_not_found.
      clerk.setInstance("other");
      const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
      try {
        const response = await trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: grace.id }) });
        expect(response.status).toBe(500);
        expect(userSyncCodeOf(response)).toBe("CLERK_INSTANCE_MISMATCH");
      } finally {
        errors.mockRestore();
      }
      expect(clerk.jwksCalls()).toBe(2);
      expect(await row(grace.id)).toMatchObject({ email: grace.email, deleted_at: null });
    });

    it("a tombstone written by a 404 is restored when Clerk later serves the user with a newer clock (a sign-in bumps it)", async () => {
      clerk.setUser(ada);
      await sync();
      await testDb.client`update users set tier = 'MAXX' where id = ${ada.id}`;
      clerk.users.delete(ada.id);
      expect(outcomeOf(await sync())).toBe("deleted");
      const restoredBefore = userSync.service.counts().restored;
      // Clerk serves the user again, and its clock moved on (Clerk bumps updated_at on every sign-in).
      clerk.setUser({ ...ada, updatedAtMs: 2_000 });
      const response = await sync();
      expect(response.status).toBe(200);
      expect(response.json.result?.data.json).toMatchObject({ outcome: "restored", user: { email: ada.email, deletedAt: null, tier: "MAXX" } });
      expect(await row()).toMatchObject({ email: ada.email, last_name: "Lovelace", tier: "MAXX", deleted_at: null, deleted_by: null, clerk_updated_at: "2000" });
      expect(userSync.service.counts().restored).toBe(restoredBefore + 1);
    });

    it("a webhook's user.deleted is final: a newer fetch does not resurrect the row", async () => {
      clerk.setUser(ada);
      await sync();
      const delivery = await userSync.webhook.handle(signedRequest(deletedEvent(ada.id, 1_500), { svixId: "msg_final_delete" }));
      expect(delivery.status).toBe(200);
      clerk.setUser({ ...ada, updatedAtMs: 9_000 });
      expect(outcomeOf(await sync())).toBe("deleted");
      expect(await row()).toMatchObject({ email: null, deleted_by: "webhook" });
    });
  });

  describe("write-path labels", () => {
    it("at an equal Clerk clock a fetch wins over a pushed payload: webhook Byron@T then fetch King@T ends on King", async () => {
      const pushed = await userSync.webhook.handle(
        signedRequest(userEvent("user.created", { ...ada, lastName: "Byron", updatedAtMs: 3_000 }), { svixId: "msg_byron" }),
      );
      expect(pushed.status).toBe(200);
      clerk.setUser({ ...ada, lastName: "King", updatedAtMs: 3_000 });
      expect(outcomeOf(await sync())).toBe("updated");
      expect(await row()).toMatchObject({ last_name: "King", clerk_updated_at: "3000" });
      // The same payload redelivered (a replay) does not undo it; a second fetch has nothing to write.
      await userSync.webhook.handle(
        signedRequest(userEvent("user.updated", { ...ada, lastName: "Byron", updatedAtMs: 3_000 }), { svixId: "msg_byron_replay" }),
      );
      expect((await row())?.last_name).toBe("King");
      expect(outcomeOf(await sync())).toBe("unchanged");
    });

    it("a newer Clerk clock with no mirrored change is touched: the clock is recorded, updated_at is not, and it is no self-heal", async () => {
      clerk.setUser(ada);
      await sync();
      const before = await row();
      const countsBefore = userSync.service.counts();
      // Real Clerk bumps updated_at on every sign-in with nothing the mirror keeps changing.
      clerk.setUser({ ...ada, updatedAtMs: 4_000 });
      expect(outcomeOf(await sync())).toBe("touched");
      const after = await row();
      expect(after).toMatchObject({ clerk_updated_at: "4000", email: before?.email, last_name: before?.last_name, last_sync_outcome: "touched" });
      expect(after?.updated_at).toEqual(before?.updated_at);
      const countsAfter = userSync.service.counts();
      expect(countsAfter.touched).toBe(countsBefore.touched + 1);
      expect(countsAfter.selfHeals).toBe(countsBefore.selfHeals);
      // Ordering still holds: an older payload is stale against the recorded clock.
      await userSync.webhook.handle(signedRequest(userEvent("user.updated", { ...ada, lastName: "Older", updatedAtMs: 3_500 }), { svixId: "msg_older" }));
      expect((await row())?.last_name).toBe("Lovelace");
    });
  });

  describe("database failures", () => {
    it("a permanent database error (a host trigger raising) is a 500 DATABASE_REJECTED; the row is untouched", async () => {
      clerk.setUser(ada);
      await sync();
      const before = await data();
      await testDb.client.unsafe(`
        create function reject_rename() returns trigger language plpgsql as $$
        begin raise exception 'no renames for %', new.last_name; end $$;
        create trigger reject_rename before update on users for each row execute function reject_rename();`);
      try {
        clerk.setUser({ ...ada, lastName: "King", updatedAtMs: 2_000 });
        const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
        const response = await sync();
        errors.mockRestore();
        expect(response.status).toBe(500);
        expect(response.json.error?.json.data.code).toBe("INTERNAL_SERVER_ERROR");
        expect(userSyncCodeOf(response)).toBe("DATABASE_REJECTED");
        expect(response.json.error?.json.message).toContain("P0001");
        expect(await data()).toEqual(before);
      } finally {
        await testDb.client.unsafe(`drop trigger reject_rename on users; drop function reject_rename();`);
      }
    });

    it("a database that does not answer in time is a 503 on user.sync and on user.me, and the next call goes through", async () => {
      clerk.setUser(ada);
      await sync();
      const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
      const [synced, read] = await whileTableLocked(() => Promise.all([sync(), me()]));
      errors.mockRestore();
      expect(synced.status).toBe(503);
      expect(userSyncCodeOf(synced)).toBe("DATABASE_UNAVAILABLE");
      expect(synced.json.error?.json.message).toContain("57014");
      expect(read.status).toBe(503);
      expect(read.json.error?.json.data.code).toBe("SERVICE_UNAVAILABLE");
      expect((await sync()).status).toBe(200);
      expect((await me()).status).toBe(200);
    });
  });

  describe("no PII leaves through a failure", () => {
    const canary = { id: ada.id, email: "canary.ada@pii-canary.test", firstName: "CanaryFirstName", lastName: "CanaryLastName" };
    const canaries = [canary.email, canary.firstName, canary.lastName];

    it("Clerk 4xx/5xx/timeouts and transient and permanent database errors: no response, log line or telemetry event carries the user's email or name", async () => {
      const captured: string[] = [];
      const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
        vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
          captured.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack ?? ""}` : typeof a === "string" ? a : JSON.stringify(a))).join(" "));
        }),
      );
      const statuses: string[] = [];
      try {
        clerk.setUser({ ...canary, updatedAtMs: 1_000 });
        await sync();
        clerk.setUser({ ...canary, lastName: "CanaryLastNameChanged", updatedAtMs: 2_000 });
        const paths: { name: string; arrange: () => Promise<void>; undo: () => Promise<void> }[] = [
          ...(
            [
              { kind: "status", status: 400, message: `${canary.email} is invalid` },
              { kind: "status", status: 401, message: `no access for ${canary.firstName}` },
              { kind: "status", status: 429, retryAfterSeconds: 3, message: canary.email },
              { kind: "status", status: 500, message: `${canary.firstName} ${canary.lastName}` },
              { kind: "hang" },
              { kind: "malformed" },
              { kind: "html-404" },
            ] as BackendFault[]
          ).map((fault) => ({
            name: `clerk ${fault.kind}${fault.kind === "status" ? ` ${fault.status}` : ""}`,
            arrange: () => Promise.resolve(clerk.setFault(fault)),
            undo: async () => {
              clerk.setFault(null);
              // A 429 pauses the shared Clerk budget for its Retry-After: end the pause for the next path.
              await testDb.client`delete from user_sync_clerk_budget`;
            },
          })),
          {
            name: "permanent: a host trigger quoting the row",
            arrange: async () => {
              await testDb.client.unsafe(`
                create function leak_row() returns trigger language plpgsql as $$
                begin raise exception 'refused % % %', new.email, new.first_name, new.last_name; end $$;
                create trigger leak_row before insert or update on users for each row execute function leak_row();`);
            },
            undo: async () => {
              await testDb.client.unsafe(`drop trigger leak_row on users; drop function leak_row();`);
            },
          },
          {
            name: "permanent: a check constraint",
            arrange: async () => {
              await testDb.client.unsafe(`alter table users add constraint no_canary check (email is null or email not like '%canary%') not valid`);
            },
            undo: async () => {
              await testDb.client.unsafe(`alter table users drop constraint no_canary`);
            },
          },
        ];
        for (const path of paths) {
          await path.arrange();
          try {
            const response = await sync();
            statuses.push(`${path.name} -> ${response.status}`);
            expect(response.status).toBeGreaterThanOrEqual(400);
            for (const value of canaries) expect(JSON.stringify(response.json), path.name).not.toContain(value);
          } finally {
            await path.undo();
          }
        }
        // Transient: the statement times out while another transaction holds the table (the
        // driver's error quotes the query's parameters in its message).
        const [synced, read] = await whileTableLocked(() => Promise.all([sync(), me()]));
        statuses.push(`transient: statement timeout -> ${synced.status} (user.me ${read.status})`);
        expect(synced.status).toBe(503);
        for (const value of canaries) {
          expect(JSON.stringify(synced.json)).not.toContain(value);
          expect(read.text).not.toContain(value);
        }
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      console.info(`PII canary failure paths: ${statuses.join("; ")}`);
      // Something was logged (the failures are reported), and none of it names the user.
      expect(captured.length).toBeGreaterThan(0);
      for (const value of canaries) expect(captured.join("\n")).not.toContain(value);
    });
  });

  describe("when Clerk fails, answers with a clear error and leaves the database untouched", () => {
    const cases = [
      { name: "429 with Retry-After", fault: { kind: "status", status: 429, retryAfterSeconds: 7 }, status: 429, code: "TOO_MANY_REQUESTS" },
      { name: "500", fault: { kind: "status", status: 500 }, status: 502, code: "BAD_GATEWAY" },
      { name: "503", fault: { kind: "status", status: 503 }, status: 502, code: "BAD_GATEWAY" },
      { name: "a hang (bounded timeout)", fault: { kind: "hang" }, status: 504, code: "GATEWAY_TIMEOUT" },
      { name: "malformed JSON", fault: { kind: "malformed" }, status: 502, code: "BAD_GATEWAY" },
      { name: "a non-JSON content type", fault: { kind: "wrong-content-type" }, status: 502, code: "BAD_GATEWAY" },
    ] as const;

    for (const failure of cases) {
      it(failure.name, async () => {
        clerk.setUser(ada);
        await sync();
        await testDb.client`update users set tier = 'PRO' where id = ${ada.id}`;
        const before = await row();
        clerk.setUser({ ...ada, lastName: "Changed", updatedAtMs: 5_000 });
        clerk.setFault(failure.fault);
        const response = await sync();
        expect(response.status).toBe(failure.status);
        expect(response.json.error?.json.data.code).toBe(failure.code);
        expect(response.json.error?.json.message).toMatch(/Clerk/);
        expect(await row()).toEqual(before);
        if (failure.status === 429) {
          expect(response.headers.get("retry-after")).toBe("7");
          expect(response.json.error?.json.data.retryAfterSeconds).toBe(7);
        }
        // Once Clerk is healthy again the same call heals the row.
        clerk.setFault(null);
        if (failure.status === 429) {
          // Meanwhile every instance is paused for the Retry-After (the shared Clerk budget)…
          expect((await sync()).status).toBe(429);
          // …until it has passed (here: the pause is dropped instead of waiting 7 s).
          await testDb.client`delete from user_sync_clerk_budget`;
        }
        expect((await sync()).json.result?.data.json).toMatchObject({ outcome: "updated" });
        expect((await row())?.last_name).toBe("Changed");
      });
    }

    it("the first sync of a new user leaves no row behind", async () => {
      clerk.setUser(ada);
      clerk.setFault({ kind: "status", status: 500 });
      expect((await sync()).status).toBe(502);
      expect(await row()).toBeNull();
    });

    it("a Clerk call that times out is aborted: its request is closed, not left hanging", async () => {
      clerk.setUser(ada);
      clerk.setFault({ kind: "hang" });
      const responses = await Promise.all([sync(), sync({ token: mintSessionToken({ userId: "user_other" }) })]);
      expect(responses.map((r) => r.status)).toEqual([504, 504]);
      await expect.poll(() => clerk.openRequests()).toBe(0);
      console.info(`timeouts: 2 hanging Clerk calls, ${clerk.abortedRequests()} aborted, ${clerk.openRequests()} left open`);
      expect(clerk.abortedRequests()).toBe(2);
    });
  });

  it("coalesces 20 concurrent syncs of one user: 1 row, 0 errors, at most 2 Clerk calls", async () => {
    clerk.setUser(ada);
    clerk.setLatency(100);
    const token = mintSessionToken({ userId: ada.id });
    const responses = await Promise.all(Array.from({ length: 20 }, () => sync({ token })));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const outcomes = responses.map((r) => (r.json.result?.data.json as { outcome: string }).outcome);
    console.info(`20 concurrent syncs: ${clerk.getUserCalls()} Clerk call(s), outcomes ${JSON.stringify(countBy(outcomes))}`);
    expect(clerk.getUserCalls()).toBeLessThanOrEqual(2);
    const rows = await testDb.client`select count(*)::int as n from users`;
    expect(rows[0]?.n).toBe(1);
  });
});

function countBy(values: string[]) {
  return values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});
}
