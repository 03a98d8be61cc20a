/**
 * profile.updateInterests: app-owned profile data, through the real middleware and tRPC route
 * on real PostgreSQL. Never sent to Clerk, never written by user.sync or webhooks.
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";

import { type ClerkUserInput, createClerkBackend, createClerkProfileBackend, mintSessionToken, signedRequest, userEvent } from "clerk-user-sync/testing";
import { integrationHarness } from "~/test/app-database";
import { trpcMutation } from "~/test/next-app";

const clerk = createClerkBackend();
const clerkWrites = createClerkProfileBackend(clerk);
const server = setupServer(...clerkWrites.handlers, ...clerk.handlers);
const testDb = integrationHarness("profile_interests", server, {
  reset: () => {
    clerk.reset();
    clerkWrites.reset();
  },
  app: true,
});
let route: { POST: (req: NextRequest) => Promise<Response> };
let webhookRoute: { POST: (req: Request) => Promise<Response> };

beforeAll(async () => {
  route = await import("~/app/api/trpc/[trpc]/route");
  webhookRoute = await import("~/app/api/webhooks/clerk/route");
});

const ada: ClerkUserInput = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };
const token = () => mintSessionToken({ userId: ada.id });

function updateInterests(input: unknown) {
  return trpcMutation(route.POST, "profile.updateInterests", { token: token(), input });
}

async function seed() {
  clerk.setUser(ada);
  expect((await trpcMutation(route.POST, "user.sync", { token: token() })).status).toBe(200);
  clerk.calls.length = 0;
}

async function row() {
  const rows = await testDb.client<{ interests: string[]; tier: string; first_name: string | null; email: string | null; clerk_updated_at: string; updated_at: Date }[]>`
    select interests, tier, first_name, email, clerk_updated_at::text, updated_at from users where id = ${ada.id}`;
  return rows[0] ?? null;
}

const clerkCalls = () => clerk.calls.length + clerkWrites.calls.length;

describe("profile.updateInterests", () => {
  it("stores trimmed, deduplicated interests on the caller's row, with no Clerk call and no mirrored column touched", async () => {
    await seed();
    const before = await row();
    const response = await updateInterests({ interests: ["  Rock   climbing ", "jazz", "JAZZ", "c++", "Ёлки"] });
    expect(response.status).toBe(200);
    expect(response.json.result?.data.json).toMatchObject({ id: ada.id, interests: ["Rock climbing", "jazz", "c++", "Ёлки"], tier: "FREE" });
    const after = await row();
    expect(after).toEqual({ ...before, interests: ["Rock climbing", "jazz", "c++", "Ёлки"] });
    expect(clerkCalls()).toBe(0);
  });

  it("rejects more than 10 tags, tags over 32 characters, empty or odd tags, another user and tier: 400, nothing written", async () => {
    await seed();
    await updateInterests({ interests: ["jazz"] });
    const before = await row();
    const cases: unknown[] = [
      { interests: Array.from({ length: 11 }, (_, i) => `tag ${i}`) },
      { interests: ["x".repeat(33)] },
      { interests: ["   "] },
      { interests: ["<script>"] },
      { interests: "jazz" },
      { interests: ["jazz"], tier: "MAXX" },
      { interests: ["jazz"], userId: "user_victim" },
      { tier: "MAXX" },
    ];
    for (const input of cases) {
      const response = await updateInterests(input);
      expect(response.status, JSON.stringify(input)).toBe(400);
      const fieldErrors = (response.json.error?.json.data as { fieldErrors?: { field: string | null }[] | null } | undefined)?.fieldErrors;
      expect(fieldErrors?.length).toBeGreaterThan(0);
    }
    // Eleven tags that deduplicate to ten are fine.
    expect((await updateInterests({ interests: [...Array.from({ length: 10 }, (_, i) => `tag ${i}`), "TAG 0"] })).status).toBe(200);
    expect((await row())?.interests).toHaveLength(10);
    expect((await row())?.tier).toBe(before?.tier);
    expect(clerkCalls()).toBe(0);
  });

  it("is never touched by sync: a user.sync and a user.updated webhook after an edit leave the interests intact", async () => {
    await seed();
    await updateInterests({ interests: ["jazz", "rust"] });

    clerk.setUser({ ...ada, firstName: "Augusta", updatedAtMs: 2_000 });
    const sync = await trpcMutation(route.POST, "user.sync", { token: token() });
    expect((sync.json.result?.data.json as { outcome: string }).outcome).toBe("updated");
    expect(await row()).toMatchObject({ first_name: "Augusta", interests: ["jazz", "rust"] });

    const delivery = await webhookRoute.POST(signedRequest(userEvent("user.updated", { ...ada, firstName: "Countess", updatedAtMs: 3_000 }), { svixId: "msg_interests_1" }));
    expect(await delivery.json()).toEqual({ outcome: "updated" });
    expect(await row()).toMatchObject({ first_name: "Countess", interests: ["jazz", "rust"] });
  });

  it("a database failure is a 503 whose answer and log quote none of the values", async () => {
    await seed();
    await testDb.client.unsafe(`
      create or replace function test_reject_user_writes() returns trigger language plpgsql
        as $$ begin raise exception 'simulated database failure for %', new.interests; end $$;
      create trigger test_reject_user_writes before update on users for each row execute function test_reject_user_writes();`);
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const response = await updateInterests({ interests: ["canaryinterest"] });
      expect(response.status).toBe(503);
      expect(JSON.stringify(response.json)).not.toContain("canaryinterest");
      expect(logged).toHaveBeenCalled();
      expect(JSON.stringify(logged.mock.calls)).not.toContain("canaryinterest");
    } finally {
      logged.mockRestore();
      await testDb.client.unsafe(`drop trigger test_reject_user_writes on users`);
    }
    expect((await row())?.interests).toEqual([]);
  });

  it("before the caller's first sync: NOT_FOUND, no row created", async () => {
    const response = await updateInterests({ interests: ["jazz"] });
    expect(response.status).toBe(404);
    expect(await row()).toBeNull();
  });

  it("without a session: 401", async () => {
    await seed();
    const response = await trpcMutation(route.POST, "profile.updateInterests", { input: { interests: ["jazz"] } });
    expect(response.status).toBe(401);
    expect((await row())?.interests).toEqual([]);
  });
});
