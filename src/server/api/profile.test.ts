/**
 * Profile edits end to end on the server: real HTTP requests through src/proxy.ts (the real
 * clerkMiddleware verifying session tokens), the tRPC route, the real Clerk Backend API client
 * against msw (reads in clerk-backend.ts, writes in clerk-profile.ts), the webhook route and the
 * real PostgreSQL server.
 */
import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";

import { type ClerkUserInput, createClerkBackend, createClerkProfileBackend, mintSessionToken, signedRequest, userEvent } from "clerk-user-sync/testing";
import { integrationHarness } from "~/test/app-database";
import { proxyMatches, trpcMutation, type TrpcEnvelope } from "~/test/next-app";
import { countingStream, trpcUpload } from "~/test/upload-request";

const clerk = createClerkBackend();
const clerkWrites = createClerkProfileBackend(clerk);
const server = setupServer(...clerkWrites.handlers, ...clerk.handlers);
const testDb = integrationHarness("profile_route", server, {
  reset: () => {
    clerk.reset();
    clerkWrites.reset();
  },
  app: true,
});
let route: { POST: (req: NextRequest) => Promise<Response> };
/** `user.updateAvatar` has a route of its own, outside clerkMiddleware's matcher. */
let avatarRoute: { POST: (req: NextRequest) => Promise<Response> };
let webhookRoute: { POST: (req: Request) => Promise<Response> };

const clerkTimeoutMs = 400;

beforeAll(async () => {
  process.env.USER_SYNC_CLERK_TIMEOUT_MS = String(clerkTimeoutMs);
  route = await import("~/app/api/trpc/[trpc]/route");
  avatarRoute = await import("~/app/api/trpc/user.updateAvatar/route");
  webhookRoute = await import("~/app/api/webhooks/clerk/route");
});

const ada: ClerkUserInput = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", username: "ada_l", updatedAtMs: 1_000 };
const adaToken = () => mintSessionToken({ userId: ada.id });

type ProfileAnswer = {
  mirror: "written" | "pending";
  outcome: string | null;
  profile: { firstName: string | null; lastName: string | null; username: string | null; imageUrl: string | null; clerkUpdatedAtMs: number };
  user: { id: string; firstName: string | null; username: string | null; clerkUpdatedAt: number; interests: string[]; tier: string } | null;
};
type FieldError = { field: string | null; code: string; message: string };

/** `token: null` sends no session. */
function updateProfile(input: unknown, token: string | null = adaToken()) {
  return trpcMutation(route.POST, "user.updateProfile", { token: token ?? undefined, input });
}

function answerOf(response: { json: TrpcEnvelope }) {
  return response.json.result?.data.json as ProfileAnswer;
}

function errorOf(response: { json: TrpcEnvelope }) {
  const data = response.json.error?.json.data as { code: string; retryAfterSeconds: number | null; fieldErrors: FieldError[] | null } | undefined;
  return { code: data?.code, retryAfterSeconds: data?.retryAfterSeconds, fieldErrors: data?.fieldErrors ?? null, message: response.json.error?.json.message };
}

/** The caller's row as user.sync creates it from Clerk. */
async function seed(user: ClerkUserInput = ada) {
  clerk.setUser(user);
  const response = await trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: user.id }) });
  expect(response.status).toBe(200);
  clerk.calls.length = 0;
}

type Row = {
  xmin: string;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  clerk_updated_at: string;
  tier: string;
  interests: string[];
};

async function row(id = ada.id) {
  const rows = await testDb.client<Row[]>`
    select xmin::text, first_name, last_name, username, image_url, clerk_updated_at::text, tier, interests from users where id = ${id}`;
  return rows[0] ?? null;
}

const clerkCalls = () => clerk.calls.length + clerkWrites.calls.length;

/**
 * The profile edits' write telemetry with this error code, flushed first. Earlier tests' counts may
 * still be landing (a flush their requests scheduled), so tests look at their own error code only.
 */
async function profileWriteStats(errorCode: string) {
  const { userSync } = await import("~/server/user-sync");
  await userSync.telemetry?.flush();
  return testDb.client<{ outcome: string; n: number }[]>`
    select outcome, sum(count)::int as n from user_sync_write_stats
    where source = 'profile-update' and error_code = ${errorCode} group by 1 order by 1`;
}

function deliver(user: ClerkUserInput, svixId: string) {
  return webhookRoute.POST(signedRequest(userEvent("user.updated", user), { svixId }));
}

describe("user.updateProfile", () => {
  it("makes exactly one Clerk call; the row holds Clerk's returned values and clock; the echo webhook writes no new row version", async () => {
    await seed();
    const response = await updateProfile({ firstName: "Augusta Ada", lastName: "King", username: "countess" });
    expect(response.status).toBe(200);
    const answer = answerOf(response);
    const inClerk = clerk.users.get(ada.id)!;
    expect(inClerk).toMatchObject({ firstName: "Augusta Ada", lastName: "King", username: "countess" });
    expect(inClerk.updatedAtMs).toBeGreaterThan(ada.updatedAtMs);

    expect(clerkWrites.calls.map((c) => `${c.method} ${c.path}`)).toEqual([`PATCH /v1/users/${ada.id}`]);
    expect(clerkCalls()).toBe(1);
    expect(answer).toMatchObject({
      mirror: "written",
      outcome: "updated",
      profile: { firstName: "Augusta Ada", lastName: "King", username: "countess", clerkUpdatedAtMs: inClerk.updatedAtMs },
      user: { id: ada.id, firstName: "Augusta Ada", username: "countess", clerkUpdatedAt: inClerk.updatedAtMs, tier: "FREE", interests: [] },
    });
    const written = await row();
    expect(written).toMatchObject({ first_name: "Augusta Ada", last_name: "King", username: "countess", clerk_updated_at: String(inClerk.updatedAtMs) });

    // Clerk's user.updated for this very change: same clock, so the write path writes nothing.
    const echo = await deliver(inClerk, "msg_echo_1");
    expect(echo.status).toBe(200);
    expect(await echo.json()).toEqual({ outcome: "unchanged" });
    const afterEcho = await row();
    expect(afterEcho?.xmin).toBe(written?.xmin);
    console.info(`profile edit: Clerk calls ${clerkCalls()}; echo webhook outcome unchanged, row version (xmin) ${written?.xmin} -> ${afterEcho?.xmin}`);
  });

  it("clears a name with an empty string, and leaves absent fields as they are", async () => {
    await seed();
    const response = await updateProfile({ lastName: "" });
    expect(response.status).toBe(200);
    expect(await row()).toMatchObject({ first_name: "Ada", last_name: null, username: "ada_l" });
    expect(clerk.users.get(ada.id)).toMatchObject({ firstName: "Ada", lastName: null, username: "ada_l" });
  });

  it("Clerk's 422 (username taken): the database is untouched and Clerk's reason names the field", async () => {
    clerk.setUser({ id: "user_grace", email: "grace@example.com", username: "countess", updatedAtMs: 5 });
    await seed();
    const before = await row();
    const response = await updateProfile({ firstName: "Changed", username: "Countess" });
    expect(response.status).toBe(422);
    expect(errorOf(response)).toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
      fieldErrors: [{ field: "username", code: "form_identifier_exists", message: "That username is taken. Please try another." }],
    });
    expect(clerkWrites.patchCalls()).toBe(1);
    expect(await row()).toEqual(before);
    expect(clerk.users.get(ada.id)).toMatchObject({ firstName: "Ada", username: "ada_l", updatedAtMs: ada.updatedAtMs });
    // Counted as Clerk's refusal, not as a failed write: the console's "Write errors" stays at 0.
    // Polled: a flush the request scheduled may be writing the count while this one finds nothing buffered.
    await expect.poll(() => profileWriteStats("CLERK_REJECTED"), { timeout: 10_000 }).toEqual([{ outcome: "refused", n: 1 }]);
    expect((await (await import("~/server/user-sync")).userSync.health.check()).errorsLastHour).toBe(0);
  });

  it("rejects invalid input before any Clerk call, with an error on the field concerned", async () => {
    await seed();
    const before = await row();
    const cases: [unknown, string | null, string][] = [
      [{ username: "ab" }, "username", "form_username_invalid_length"],
      [{ username: "a".repeat(65) }, "username", "form_username_invalid_length"],
      [{ username: "ada lovelace" }, "username", "form_username_invalid_character"],
      [{ username: "ada@home" }, "username", "form_username_invalid_character"],
      [{ username: "12345" }, "username", "form_username_needs_non_number_char"],
      [{ firstName: "x".repeat(257) }, "firstName", "form_param_max_length_exceeded"],
      [{ lastName: "Love\nlace" }, "lastName", "form_param_format_invalid"],
      // Unicode's own line breaks and bidi marks are controls too.
      [{ firstName: "Ada\u2028Lovelace" }, "firstName", "form_param_format_invalid"],
      [{ firstName: "Ada\u2029Byron" }, "firstName", "form_param_format_invalid"],
      [{ lastName: "\u200eLovelace" }, "lastName", "form_param_format_invalid"],
      [{ lastName: "Lovelace\u200f" }, "lastName", "form_param_format_invalid"],
      [{ firstName: "A\u061Cda" }, "firstName", "form_param_format_invalid"],
      [{ firstName: 42 }, "firstName", "form_param_type_invalid"],
      [{}, null, "form_param_missing"],
    ];
    for (const [input, field, code] of cases) {
      const response = await updateProfile(input);
      expect(response.status, JSON.stringify(input)).toBe(400);
      const error = errorOf(response);
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.fieldErrors).toEqual([expect.objectContaining({ field, code })]);
      expect(error.fieldErrors?.[0]?.message.length).toBeGreaterThan(10);
    }
    expect(clerkCalls()).toBe(0);
    expect(await row()).toEqual(before);
  });

  it("takes identity only from the session: a body naming another user, or tier, is rejected; an edit changes only the caller", async () => {
    await seed();
    await seed({ id: "user_victim", email: "victim@example.com", firstName: "Vic", updatedAtMs: 5 });
    await testDb.client`update users set tier = 'PRO' where id = 'user_victim'`;
    const victimBefore = await row("user_victim");
    for (const input of [
      { userId: "user_victim", firstName: "Hacked" },
      { id: "user_victim", firstName: "Hacked" },
      { firstName: "Ada", tier: "MAXX" },
      { email: "evil@example.com" },
    ]) {
      const response = await updateProfile(input);
      expect(response.status).toBe(400);
      expect(errorOf(response).fieldErrors).toContainEqual(expect.objectContaining({ field: null, code: "form_param_unknown" }));
    }
    expect(clerkCalls()).toBe(0);

    const response = await updateProfile({ firstName: "Only Ada" });
    expect(response.status).toBe(200);
    expect(clerkWrites.calls.map((c) => c.path)).toEqual([`/v1/users/${ada.id}`]);
    expect(await row()).toMatchObject({ first_name: "Only Ada", tier: "FREE" });
    expect(await row("user_victim")).toEqual(victimBefore);
    expect(clerk.users.get("user_victim")?.firstName).toBe("Vic");
  });

  it("rejects a request without a session: 401, no Clerk call", async () => {
    await seed();
    const response = await updateProfile({ firstName: "Nobody" }, null);
    expect(response.status).toBe(401);
    expect(clerkCalls()).toBe(0);
  });

  describe("Clerk saved it but the database write failed", () => {
    async function failUserWrites() {
      await testDb.client.unsafe(`
        create or replace function test_reject_user_writes() returns trigger language plpgsql
          as $$ begin raise exception 'simulated database failure for %', new.last_name; end $$;
        create trigger test_reject_user_writes before insert or update on users
          for each row execute function test_reject_user_writes();`);
      return () => testDb.client.unsafe(`drop trigger test_reject_user_writes on users`);
    }

    it("answers that the change is saved and the mirror is pending; the next sync converges the row", async () => {
      await seed();
      const before = await row();
      const restore = await failUserWrites();
      const logged = vi.spyOn(console, "warn");
      let response;
      try {
        response = await updateProfile({ lastName: "Kingcanary" });
      } finally {
        await restore();
      }
      expect(response.status).toBe(200);
      expect(answerOf(response)).toMatchObject({ mirror: "pending", outcome: null, user: null, profile: { lastName: "Kingcanary" } });
      expect(await row()).toEqual(before);
      // The database's error quotes the value; nothing logged or emitted does.
      expect(logged.mock.calls.map((args) => args.map(String).join(" ")).join("\n")).toContain('"source":"profile-update","outcome":"error"');
      expect(JSON.stringify(logged.mock.calls)).not.toContain("Kingcanary");
      logged.mockRestore();

      const sync = await trpcMutation(route.POST, "user.sync", { token: adaToken() });
      expect((sync.json.result?.data.json as { outcome: string }).outcome).toBe("updated");
      expect(await row()).toMatchObject({ last_name: "Kingcanary", clerk_updated_at: String(clerk.users.get(ada.id)!.updatedAtMs) });
    });

    it("or Clerk's echo webhook converges it", async () => {
      await seed();
      const restore = await failUserWrites();
      try {
        expect(answerOf(await updateProfile({ username: "countess" })).mirror).toBe("pending");
      } finally {
        await restore();
      }
      expect((await row())?.username).toBe("ada_l");
      const echo = await deliver(clerk.users.get(ada.id)!, "msg_echo_pending");
      expect(await echo.json()).toEqual({ outcome: "updated" });
      expect((await row())?.username).toBe("countess");
    });
  });

  it("Clerk's per-user limit (10 updates per 10 s) is kept before Clerk: the 11th edit is TOO_MANY_REQUESTS with Retry-After, no Clerk call, database unchanged", async () => {
    await seed();
    for (let i = 1; i <= 10; i++) expect((await updateProfile({ firstName: `Ada ${i}` })).status).toBe(200);
    const before = await row();
    expect(before?.first_name).toBe("Ada 10");

    const response = await updateProfile({ firstName: "Ada 11" });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(errorOf(response)).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSeconds: retryAfter });
    expect(await row()).toEqual(before);
    expect(clerkWrites.patchCalls()).toBe(10);

    // Another app instance keeps the same count (it lives in PostgreSQL), avatars included.
    vi.resetModules();
    const otherInstance = await import("~/app/api/trpc/[trpc]/route");
    const there = await trpcMutation(otherInstance.POST, "user.updateProfile", { token: adaToken(), input: { firstName: "Ada 12" } });
    expect(there.status).toBe(429);
    const avatarOnOtherInstance = await import("~/app/api/trpc/user.updateAvatar/route");
    const avatar = await trpcUpload(avatarOnOtherInstance.POST, "user.updateAvatar", { token: adaToken(), body: image(png, 1_000) });
    expect(avatar.status).toBe(429);
    expect(clerkWrites.calls).toHaveLength(10);

    // The limit is this user's edits only: another user's sync and edit still reach Clerk at once.
    await seed({ id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 5 });
    const graceEdit = await updateProfile({ firstName: "Amazing Grace" }, mintSessionToken({ userId: "user_grace" }));
    expect(graceEdit.status).toBe(200);
  });

  it("while Clerk's Retry-After for a user runs, that user's edits make no Clerk call and answer 429 with it; other users are not paused", async () => {
    await seed();
    await seed({ id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 5 });
    // Clerk limits this user sooner than its documented 10 (another client of the instance edited them too).
    clerkWrites.setPatchLimit(2);
    for (let i = 1; i <= 2; i++) expect((await updateProfile({ firstName: `Ada ${i}` })).status).toBe(200);
    const limited = await updateProfile({ firstName: "Ada 3" });
    expect(limited.status).toBe(429);
    const clerkRetryAfter = Number(limited.headers.get("retry-after"));
    expect(clerkWrites.patchCalls()).toBe(3);

    const before = await row();
    for (let i = 0; i < 5; i++) {
      const refused = await updateProfile({ firstName: `Ada again ${i}` });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(clerkRetryAfter);
    }
    expect(clerkWrites.patchCalls()).toBe(3);
    expect(await row()).toEqual(before);

    clerkWrites.setPatchLimit(10);
    expect((await updateProfile({ firstName: "Amazing Grace" }, mintSessionToken({ userId: "user_grace" }))).status).toBe(200);
    clerk.setUser({ id: "user_alan", email: "alan@example.com", firstName: "Alan", updatedAtMs: 7 });
    expect((await trpcMutation(route.POST, "user.sync", { token: mintSessionToken({ userId: "user_alan" }) })).status).toBe(200);
  });

  it("two racing edits: the mirror ends on Clerk's final state, whichever answer arrives last", async () => {
    await seed();
    clerkWrites.setPatchLimit(1_000);
    const outcomes: string[] = [];
    for (let trial = 0; trial < 6; trial++) {
      // Twelve edits in a row exceed the per-user limit (10 per 10 s): each trial as if the window had passed.
      await testDb.client`delete from user_sync_clerk_user_limits`;
      // Clerk applies the first request to arrive first but answers it last.
      clerkWrites.delayNextResponses(300, 0);
      const answers = await Promise.all([updateProfile({ firstName: `Left ${trial}` }), updateProfile({ firstName: `Right ${trial}` })]);
      const final = clerk.users.get(ada.id)!;
      expect(await row()).toMatchObject({ first_name: final.firstName, clerk_updated_at: String(final.updatedAtMs) });
      outcomes.push(...answers.map((a) => answerOf(a).outcome!));
    }
    // The races happened: late answers carried the older clock and the write path refused them.
    // (On a slow machine the second request may reach Clerk after the first answer was written:
    // then both are plain updates, in order, and the final state holds all the same.)
    const stale = outcomes.filter((o) => o === "stale").length;
    console.info(`racing profile edits: ${stale} of 6 late answers refused as stale; the mirror ended on Clerk's final state in 6 of 6`);
    expect(stale).toBeGreaterThanOrEqual(3);
    expect(outcomes.filter((o) => o === "updated")).toHaveLength(12 - stale);
  });

  it("a Clerk timeout aborts the request and answers GATEWAY_TIMEOUT with the database untouched; the next sync converges", async () => {
    await seed();
    const before = await row();
    clerkWrites.delayNextResponses(clerkTimeoutMs * 3);
    const response = await updateProfile({ firstName: "Slow" });
    expect(response.status).toBe(504);
    expect(errorOf(response)).toMatchObject({ code: "GATEWAY_TIMEOUT", message: expect.stringContaining("may still have been saved") as string });
    expect(clerkWrites.abortedRequests()).toBe(1);
    expect(await row()).toEqual(before);
    // Clerk failing to answer is a write error (unlike its refusals).
    await expect.poll(() => profileWriteStats("CLERK_TIMEOUT"), { timeout: 10_000 }).toEqual([{ outcome: "error", n: 1 }]);
    // Clerk did apply it (the answer was only late): a sync brings the mirror up to date.
    await trpcMutation(route.POST, "user.sync", { token: adaToken() });
    expect((await row())?.first_name).toBe("Slow");
  });
});

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00");
const webp = new TextEncoder().encode("RIFF\x24\x00\x00\x00WEBPVP8 ");
const twoMiB = 2 * 1024 * 1024;

function image(head: Uint8Array, bytes = 4096) {
  const body = new Uint8Array(bytes);
  body.set(head);
  return body;
}

describe("user.updateAvatar", () => {
  const upload = (body: Uint8Array | ReadableStream<Uint8Array>, options: { token?: string; contentLength?: number | null } = {}) =>
    trpcUpload(avatarRoute.POST, "user.updateAvatar", { token: "token" in options ? options.token : adaToken(), body, contentLength: options.contentLength });

  it("uploads a PNG: one Clerk call, and the row holds Clerk's new image URL and clock", async () => {
    await seed();
    const response = await upload(image(png, 10_000));
    expect(response.status).toBe(200);
    const inClerk = clerk.users.get(ada.id)!;
    expect(clerkWrites.uploads).toEqual([{ userId: ada.id, type: "image/png", bytes: 10_000, name: "avatar.png" }]);
    expect(clerkCalls()).toBe(1);
    const imageUrl = clerkWrites.imageUrls.get(ada.id);
    expect(answerOf(response)).toMatchObject({ mirror: "written", outcome: "updated", profile: { imageUrl } });
    expect(await row()).toMatchObject({ image_url: imageUrl, clerk_updated_at: String(inClerk.updatedAtMs) });
  });

  it("accepts JPEG, WebP and GIF by their first bytes", async () => {
    await seed();
    for (const head of [jpeg, webp, gif]) expect((await upload(image(head))).status).toBe(200);
    expect(clerkWrites.uploads.map((u) => u.type)).toEqual(["image/jpeg", "image/webp", "image/gif"]);
  });

  it("refuses a file that is not an image by its bytes: 415 on the avatar field, no Clerk call", async () => {
    await seed();
    const before = await row();
    for (const body of [new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), new Uint8Array(0), png.subarray(0, 4)]) {
      const response = await upload(body);
      expect(response.status).toBe(415);
      expect(errorOf(response)).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", fieldErrors: [{ field: "avatar", code: "image_type_unsupported" }] });
    }
    expect(clerkCalls()).toBe(0);
    expect(await row()).toEqual(before);
  });

  it("refuses an image over 2 MiB before reading more than 2 MiB of it: 413, no Clerk call", async () => {
    await seed();
    const { stream, counter } = countingStream(png, 3 * twoMiB);
    const response = await upload(stream, { contentLength: null });
    expect(response.status).toBe(413);
    expect(errorOf(response)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", fieldErrors: [{ field: "avatar", code: "image_too_large" }] });
    expect(counter.pulledBytes).toBeLessThanOrEqual(twoMiB + 64 * 1024);
    expect(counter.cancelled).toBe(true);
    expect(clerkCalls()).toBe(0);
    console.info(`avatar over 2 MiB, no Content-Length: ${counter.pulledBytes} of ${3 * twoMiB} bytes read before the 413`);

    // Exactly 2 MiB is allowed.
    expect((await upload(image(png, twoMiB))).status).toBe(200);
  });

  it("refuses a declared Content-Length over 2 MiB before reading any of the body", async () => {
    await seed();
    const { stream, counter } = countingStream(png, twoMiB + 1);
    const response = await upload(stream, { contentLength: twoMiB + 1 });
    expect(response.status).toBe(413);
    expect(counter.pulledBytes).toBe(0);
    expect(clerkCalls()).toBe(0);
  });

  it("is outside clerkMiddleware's matcher (Next would read the whole upload first) and verifies the session itself: forged or expired tokens are 401 and nothing is read", async () => {
    for (const pathname of ["/api/trpc/user.updateAvatar", "/api/trpc/user.updateAvatar/"]) expect(await proxyMatches(pathname), pathname).toBe(false);
    for (const pathname of ["/api/trpc/user.updateProfile", "/api/trpc/user.updateAvatarX", "/api/trpc/user.sync"]) expect(await proxyMatches(pathname), pathname).toBe(true);
    await seed();
    const valid = adaToken();
    const [head, payload] = valid.split(".");
    const forged = `${head}.${payload}.${Buffer.from("not the signature").toString("base64url")}`;
    // (Another origin's token, with APP_URL set: src/proxy.test.ts.)
    for (const token of [forged, mintSessionToken({ userId: ada.id, expiresInSeconds: -60 })]) {
      const { stream, counter } = countingStream(png, 10_000);
      const response = await upload(stream, { token, contentLength: 10_000 });
      expect(response.status, token === forged ? "forged" : "expired").toBe(401);
      expect(counter.pulledBytes).toBe(0);
    }
    expect(clerkCalls()).toBe(0);
    expect((await upload(image(png, 1_000), { token: valid })).status).toBe(200);
  });

  it("reads nothing without a session: 401", async () => {
    await seed();
    const { stream, counter } = countingStream(png, 10_000);
    const response = await upload(stream, { token: undefined, contentLength: 10_000 });
    expect(response.status).toBe(401);
    expect(counter.pulledBytes).toBe(0);
    expect(clerkCalls()).toBe(0);
  });
});
