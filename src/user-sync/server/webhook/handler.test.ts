/**
 * The Clerk webhook handler against the real PostgreSQL server: signature checks (with zero
 * database access on rejection), exactly-once application of at-least-once deliveries, dead
 * letters, the instance guard, database failures and what reaches the logs.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { deletedEvent, signedHeaders, signedRequest, testInstanceId, testSchema as schema, testSigningSecret, testUsers as users, userEvent, webhookUrl } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import type { UserSyncEvent } from "../events";
import { createClerkWebhookHandler } from "./handler";
import type { ClerkWebhookLogEntry, ClerkWebhookOptions } from "./types";

let testDb: TestDatabase;
let countingClient: postgres.Sql;
let countingDb: TestDatabase["db"];
let queryCount = 0;

beforeAll(async () => {
  testDb = await createTestDatabase("webhook");
  // Every query the handler sends passes through this client's debug hook.
  countingClient = postgres(testDb.url, { max: 10, onnotice: () => undefined, debug: () => void queryCount++ });
  countingDb = drizzle({ client: countingClient, schema });
});
beforeEach(async () => {
  await testDb.truncate();
  queryCount = 0;
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await countingClient.end({ timeout: 5 });
  await testDb.close();
});

const quiet = () => undefined;

function handler(overrides: Partial<ClerkWebhookOptions> = {}) {
  return createClerkWebhookHandler({
    db: () => Promise.resolve(countingDb),
    users,
    signingSecret: testSigningSecret(),
    log: quiet,
    // No background inbox pruning here (inbox.test.ts covers it): query counts stay exact.
    pruneIntervalMs: 0,
    ...overrides,
  });
}

const ada = { id: "user_ada", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", updatedAtMs: 1_000 };

async function userRow(id = ada.id) {
  const rows = await testDb.client<{ xmin: string; email: string | null; last_name: string | null; clerk_updated_at: string; deleted_at: Date | null; tier: string }[]>`
    select xmin::text, email, last_name, clerk_updated_at::text, deleted_at, tier from users where id = ${id}`;
  return rows[0] ?? null;
}

async function inboxRows() {
  return testDb.client<{ svix_id: string; event_type: string | null; clerk_user_id: string | null; event_timestamp_ms: string | null; outcome: string; dead_letter_reason: string | null; processed_at: Date | null }[]>`
    select svix_id, event_type, clerk_user_id, event_timestamp_ms::text, outcome, dead_letter_reason, processed_at from clerk_webhook_events order by svix_id`;
}

describe("signature verification", () => {
  // The published known-answer vector of the Svix / Standard Webhooks reference libraries.
  const vector = {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };

  it("matches the published known-answer vector, and the handler accepts it at its time", async () => {
    expect(new Webhook(vector.secret).sign(vector.id, new Date(vector.timestamp * 1000), vector.body)).toBe(vector.signature);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(vector.timestamp * 1000);
    const headers = { "svix-id": vector.id, "svix-timestamp": String(vector.timestamp), "svix-signature": vector.signature };
    const wh = handler({ signingSecret: vector.secret });
    const response = await wh.handle(new Request(webhookUrl, { method: "POST", headers, body: vector.body }));
    // Authentic, but not a Clerk event envelope: acknowledged as a dead letter.
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: "dead_letter" });
    // Rotation: one valid v1 entry among wrong v1 and v2 entries is enough.
    const rotated = [
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      vector.signature,
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    ].join(" ");
    const again = await wh.handle(new Request(webhookUrl, { method: "POST", headers: { ...headers, "svix-signature": rotated }, body: vector.body }));
    expect(again.status).toBe(200);
    // The same secret without its whsec_ prefix verifies too (the library strips it).
    expect((await handler({ signingSecret: vector.secret.slice("whsec_".length) }).handle(new Request(webhookUrl, { method: "POST", headers, body: vector.body }))).status).toBe(200);
  });

  it("accepts a delivery signed during a secret rotation (old and new secret in one header)", async () => {
    const body = JSON.stringify(userEvent("user.created", ada));
    const attemptAtSeconds = Math.floor(Date.now() / 1000);
    const oldSecret = `whsec_${Buffer.from("an-old-secret-of-thirty-two-byte").toString("base64")}`;
    const withOld = new Webhook(oldSecret).sign("msg_rotate", new Date(attemptAtSeconds * 1000), body);
    const headers = signedHeaders(body, { svixId: "msg_rotate", attemptAtSeconds });
    headers["svix-signature"] = `${withOld} ${headers["svix-signature"]}`;
    const response = await handler().handle(new Request(webhookUrl, { method: "POST", headers, body }));
    expect(response.status).toBe(200);
    expect((await userRow())?.email).toBe("ada@example.com");
  });

  it("rejects every forged, stale or malformed delivery with 4xx and zero database queries", async () => {
    let databaseRequested = 0;
    const wh = handler({
      db: () => {
        databaseRequested++;
        return Promise.reject(new Error("the database must not be touched"));
      },
    });
    const event = userEvent("user.created", ada);
    const body = JSON.stringify(event, null, 2);
    const nowSeconds = Math.floor(Date.now() / 1000);
    const valid = signedHeaders(body, { svixId: "msg_valid" });
    const signature = valid["svix-signature"]!;
    const without = (name: string) => Object.fromEntries(Object.entries(valid).filter(([key]) => key !== name));
    const wrongSecret = `whsec_${Buffer.from("another-secret-thirty-two-bytes!").toString("base64")}`;
    const oversized = JSON.stringify({ ...event, padding: "x".repeat(300 * 1024) });

    const cases: { name: string; request: () => Request; status: number; reason: string }[] = [
      { name: "tampered body", status: 400, reason: "invalid_signature", request: () => post(valid, body.replace("ada@example.com", "eve@example.com")) },
      { name: "wrong secret", status: 400, reason: "invalid_signature", request: () => post(signedHeaders(body, { svixId: "msg_valid", secret: wrongSecret }), body) },
      { name: "expired timestamp (5 min + 1 s old)", status: 400, reason: "timestamp_out_of_tolerance", request: () => post(signedHeaders(body, { svixId: "msg_valid", attemptAtSeconds: nowSeconds - 301 }), body) },
      { name: "future timestamp (5 min + 1 s ahead)", status: 400, reason: "timestamp_out_of_tolerance", request: () => post(signedHeaders(body, { svixId: "msg_valid", attemptAtSeconds: nowSeconds + 301 }), body) },
      { name: "non-numeric timestamp", status: 400, reason: "invalid_timestamp", request: () => post({ ...valid, "svix-timestamp": "hello" }, body) },
      { name: "missing svix-id", status: 400, reason: "missing_headers", request: () => post(without("svix-id"), body) },
      { name: "missing svix-timestamp", status: 400, reason: "missing_headers", request: () => post(without("svix-timestamp"), body) },
      { name: "missing svix-signature", status: 400, reason: "missing_headers", request: () => post(without("svix-signature"), body) },
      { name: "truncated signature", status: 400, reason: "invalid_signature", request: () => post({ ...valid, "svix-signature": signature.slice(0, 8) }, body) },
      { name: "empty v1 signature", status: 400, reason: "invalid_signature", request: () => post({ ...valid, "svix-signature": "v1," }, body) },
      { name: "valid signature under v2 only", status: 400, reason: "invalid_signature", request: () => post({ ...valid, "svix-signature": signature.replace("v1,", "v2,") }, body) },
      { name: "re-serialized JSON (same data, other bytes)", status: 400, reason: "invalid_signature", request: () => post(valid, JSON.stringify(JSON.parse(body))) },
      { name: "over-long svix-id", status: 400, reason: "invalid_svix_id", request: () => post({ ...valid, "svix-id": "m".repeat(500) }, body) },
      { name: "body over the cap (Content-Length)", status: 413, reason: "body_too_large", request: () => post({ ...signedHeaders(oversized, { svixId: "msg_big" }), "content-length": String(oversized.length) }, oversized) },
      { name: "body over the cap (streamed, no Content-Length)", status: 413, reason: "body_too_large", request: () => streamed(signedHeaders(oversized, { svixId: "msg_big" }), oversized) },
    ];

    const rejected: string[] = [];
    for (const testCase of cases) {
      const response = await wh.handle(testCase.request());
      const answer = (await response.json()) as { error?: string };
      if (response.status === testCase.status && answer.error === testCase.reason) rejected.push(testCase.name);
      else console.warn(`not rejected as expected: ${testCase.name} → ${response.status} ${JSON.stringify(answer)}`);
    }
    console.info(`rejected ${rejected.length}/${cases.length} with ${queryCount} database queries and ${databaseRequested} database requests`);
    expect(rejected).toEqual(cases.map((c) => c.name));
    expect(databaseRequested).toBe(0);
    expect(queryCount).toBe(0);
    expect(wh.counts().rejected).toBe(cases.length);
    // The same valid delivery passes, so the rejections above were about what each case changed.
    const accepted = await handler().handle(post(valid, body));
    expect(accepted.status).toBe(200);
  });

  it("answers 503 saying only that it is not configured when no signing secret is set; the log names the variable", async () => {
    let databaseRequested = 0;
    const entries: ClerkWebhookLogEntry[] = [];
    const wh = handler({ signingSecret: undefined, db: () => (databaseRequested++, Promise.resolve(countingDb)), log: (entry) => entries.push(entry) });
    const response = await wh.handle(signedRequest(userEvent("user.created", ada), { svixId: "msg_1" }));
    expect(response.status).toBe(503);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: "not_configured" });
    // An unauthenticated caller learns no configuration names.
    expect(body).not.toMatch(/CLERK|SECRET|whsec/i);
    expect(entries).toEqual([expect.objectContaining({ level: "error", status: 503, outcome: "not_configured", reason: "CLERK_WEBHOOK_SIGNING_SECRET is not set" })]);
    expect(databaseRequested).toBe(0);
    expect(queryCount).toBe(0);
  });

  it("refuses other methods with 405", async () => {
    const response = await handler().handle(new Request(webhookUrl, { method: "PUT", body: "{}" }));
    expect(response.status).toBe(405);
    expect(queryCount).toBe(0);
  });
});

describe("delivery semantics", () => {
  it("applies user.created in one statement with its inbox row, and emits webhook telemetry", async () => {
    const events: UserSyncEvent[] = [];
    const response = await handler({ onEvent: (event) => events.push(event) }).handle(signedRequest(userEvent("user.created", ada), { svixId: "msg_created" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: "created" });
    expect(await userRow()).toMatchObject({ email: "ada@example.com", last_name: "Lovelace", clerk_updated_at: "1000", tier: "FREE" });
    const [inbox] = await inboxRows();
    expect(inbox).toMatchObject({ svix_id: "msg_created", event_type: "user.created", clerk_user_id: ada.id, event_timestamp_ms: "1000", outcome: "created", dead_letter_reason: null });
    expect(inbox?.processed_at).not.toBeNull();
    expect(events).toEqual([expect.objectContaining({ source: "webhook", outcome: "created", clerkFetched: false })]);
  });

  it("applies a sequentially redelivered message once: one inbox row, no new row version", async () => {
    const wh = handler();
    const event = userEvent("user.created", ada);
    expect((await wh.handle(signedRequest(event, { svixId: "msg_twice" }))).status).toBe(200);
    const before = await userRow();
    // Svix re-signs each attempt with a fresh svix-timestamp; the svix-id stays.
    const again = await wh.handle(signedRequest(event, { svixId: "msg_twice", attemptAtSeconds: Math.floor(Date.now() / 1000) + 5 }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ outcome: "duplicate" });
    expect((await userRow())?.xmin).toBe(before?.xmin);
    expect(await inboxRows()).toHaveLength(1);
    expect(wh.counts()).toMatchObject({ applied: 1, duplicate: 1 });
  });

  it("does not recreate a row the host deleted when an applied message is redelivered (the inbox guards the insert too)", async () => {
    const wh = handler();
    const event = userEvent("user.created", ada);
    expect(await (await wh.handle(signedRequest(event, { svixId: "msg_purged" }))).json()).toEqual({ outcome: "created" });
    await testDb.client`delete from users where id = ${ada.id}`;
    const again = await wh.handle(signedRequest(event, { svixId: "msg_purged", attemptAtSeconds: Math.floor(Date.now() / 1000) + 5 }));
    expect(await again.json()).toEqual({ outcome: "duplicate" });
    expect(await userRow()).toBeNull();
  });

  it("applies concurrent copies of one message once and answers every copy 2xx (30 trials × 8 copies)", async () => {
    const wh = handler();
    let maxBackends = 0;
    for (let trial = 0; trial < 30; trial++) {
      const userId = `user_dup_${trial}`;
      // Each trial duplicates a different kind of event: a create, an update over an existing row, a delete.
      const kind = trial % 3;
      if (kind !== 0) await wh.handle(signedRequest(userEvent("user.created", { id: userId, email: `dup${trial}@example.com`, updatedAtMs: 100 }), { svixId: `msg_seed_${trial}` }));
      const before = await userRow(userId);
      const event =
        kind === 0
          ? userEvent("user.created", { id: userId, email: `dup${trial}@example.com`, updatedAtMs: 100 })
          : kind === 1
            ? userEvent("user.updated", { id: userId, email: `dup${trial}+new@example.com`, updatedAtMs: 200 })
            : deletedEvent(userId, 300);
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => wh.handle(signedRequest(event, { svixId: `msg_dup_${trial}` }))),
      );
      const backends = await testDb.client<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database()`;
      maxBackends = Math.max(maxBackends, backends[0]?.n ?? 0);
      const outcomes = await Promise.all(responses.map(async (r) => ({ status: r.status, ...((await r.json()) as { outcome: string }) })));
      expect(outcomes.every((o) => o.status === 200)).toBe(true);
      expect(outcomes.filter((o) => o.outcome !== "duplicate")).toHaveLength(1);
      const rows = await testDb.client`select outcome from clerk_webhook_events where svix_id = ${`msg_dup_${trial}`}`;
      expect(rows).toHaveLength(1);
      const after = await userRow(userId);
      // Written exactly once: one new row version over the state before.
      expect(after?.xmin).not.toBe(before?.xmin);
      if (kind === 2) expect(after?.deleted_at).not.toBeNull();
    }
    expect(wh.counts()).toMatchObject({ applied: 30 + 20, duplicate: 30 * 7, failed: 0 });
    // The copies really ran at once, on several connections.
    expect(maxBackends).toBeGreaterThan(2);
  });

  it("ignores other event types with 2xx and no database access", async () => {
    const wh = handler();
    const response = await wh.handle(signedRequest({ type: "session.created", object: "event", data: { id: "sess_1" }, timestamp: 1 }, { svixId: "msg_session" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: "ignored_type" });
    expect(queryCount).toBe(0);
    expect(wh.counts().ignoredType).toBe(1);
  });

  it("records signed but unusable payloads as acknowledged dead letters, never retried", async () => {
    const wh = handler();
    const good = userEvent("user.created", ada);
    const payloads: { svixId: string; body: string; reason: RegExp }[] = [
      { svixId: "msg_not_json", body: "{ not json", reason: /^invalid_json$/ },
      { svixId: "msg_deleted_no_timestamp", body: JSON.stringify({ ...deletedEvent(ada.id, 5), timestamp: undefined }), reason: /^invalid_envelope: timestamp: invalid_type$/ },
      { svixId: "msg_no_data", body: JSON.stringify({ type: "user.updated", object: "event", timestamp: 5 }), reason: /^invalid_envelope: data: invalid_type$/ },
      { svixId: "msg_no_id", body: JSON.stringify({ ...good, data: { ...(good.data as object), id: undefined } }), reason: /^malformed_user: id: invalid_type$/ },
      { svixId: "msg_bad_user", body: JSON.stringify({ ...good, data: { ...(good.data as object), email_addresses: "ada@example.com" } }), reason: /^malformed_user: email_addresses: invalid_type$/ },
      { svixId: "msg_bad_delete", body: JSON.stringify(deletedEvent("not-a-user-id", 5)), reason: /^malformed_deleted_user: id: invalid_format$/ },
    ];
    for (const payload of payloads) {
      const response = await wh.handle(signedRequest(payload.body, { svixId: payload.svixId }));
      expect(response.status, payload.svixId).toBe(200);
      expect(await response.json()).toEqual({ outcome: "dead_letter" });
      // A redelivery is acknowledged the same way and adds nothing.
      expect((await wh.handle(signedRequest(payload.body, { svixId: payload.svixId }))).status).toBe(200);
    }
    const rows = await inboxRows();
    expect(rows).toHaveLength(payloads.length);
    for (const payload of payloads) {
      const row = rows.find((r) => r.svix_id === payload.svixId);
      expect(row?.outcome).toBe("dead_letter");
      expect(row?.processed_at).toBeNull();
      expect(row?.dead_letter_reason).toMatch(payload.reason);
      // Reasons name fields, never values.
      expect(row?.dead_letter_reason).not.toContain("ada@example.com");
    }
    expect(await userRow()).toBeNull();
  });

  it("requires the envelope timestamp only of user.deleted: upserts are ordered by data.updated_at, other types are ignored", async () => {
    const wh = handler();
    const created = await wh.handle(signedRequest(JSON.stringify({ ...userEvent("user.created", ada), timestamp: undefined }), { svixId: "msg_created_no_ts" }));
    expect(await created.json()).toEqual({ outcome: "created" });
    const updated = await wh.handle(signedRequest(JSON.stringify({ ...userEvent("user.updated", { ...ada, lastName: "King", updatedAtMs: 2_000 }), timestamp: undefined }), { svixId: "msg_updated_no_ts" }));
    expect(await updated.json()).toEqual({ outcome: "updated" });
    expect(await userRow()).toMatchObject({ last_name: "King", clerk_updated_at: "2000" });
    expect((await inboxRows()).map((row) => [row.svix_id, row.outcome, row.event_timestamp_ms])).toEqual([
      ["msg_created_no_ts", "created", null],
      ["msg_updated_no_ts", "updated", null],
    ]);
    queryCount = 0;
    // An event type this handler does not apply is acknowledged whatever its envelope lacks.
    for (const [svixId, payload] of [
      ["msg_session_no_ts", { type: "session.created", object: "event", data: { id: "sess_1" } }],
      ["msg_email_no_data", { type: "email.created", object: "event" }],
    ] as const) {
      const ignored = await wh.handle(signedRequest(JSON.stringify(payload), { svixId }));
      expect(ignored.status).toBe(200);
      expect(await ignored.json()).toEqual({ outcome: "ignored_type" });
    }
    expect(queryCount).toBe(0);
    expect(wh.counts()).toMatchObject({ applied: 2, ignoredType: 2, deadLettered: 0 });
  });

  it("ignores events of another Clerk instance with 2xx, logs them at warn, counts them, and applies its own", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    const wh = handler({ instanceId: testInstanceId, log: (entry) => entries.push(entry) });
    const foreign = await wh.handle(signedRequest(userEvent("user.created", ada, "ins_someone_else"), { svixId: "msg_foreign" }));
    expect(foreign.status).toBe(200);
    expect(await foreign.json()).toEqual({ outcome: "ignored_instance" });
    const unnamed = await wh.handle(signedRequest({ ...userEvent("user.created", ada), instance_id: undefined }, { svixId: "msg_unnamed" }));
    expect(await unnamed.json()).toEqual({ outcome: "ignored_instance" });
    expect(queryCount).toBe(0);
    expect(await userRow()).toBeNull();
    expect(wh.counts().ignoredInstance).toBe(2);
    expect(entries).toEqual([
      expect.objectContaining({ level: "warn", status: 200, svixId: "msg_foreign", outcome: "ignored_instance", reason: "other_instance" }),
      expect.objectContaining({ level: "warn", status: 200, svixId: "msg_unnamed", outcome: "ignored_instance", reason: "other_instance" }),
    ]);
    const own = await wh.handle(signedRequest(userEvent("user.created", ada, testInstanceId), { svixId: "msg_own" }));
    expect(await own.json()).toEqual({ outcome: "created" });
    expect(entries.at(-1)).toMatchObject({ level: "info", outcome: "created" });
  });
});

describe("database failures", () => {
  it("answers 503 while the database is unreachable; the redelivery then applies exactly once", async () => {
    const errorSpy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const unreachable = postgres("postgres://postgres@127.0.0.1:1/none", { max: 1, connect_timeout: 1, onnotice: () => undefined });
    const events: UserSyncEvent[] = [];
    const down = handler({ db: () => Promise.resolve(drizzle({ client: unreachable, schema })), log: undefined, onEvent: (e) => events.push(e) });
    const event = userEvent("user.created", ada);
    const failed = await down.handle(signedRequest(event, { svixId: "msg_down" }));
    await unreachable.end({ timeout: 1 });
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ error: "database_unavailable" });
    expect(events).toEqual([expect.objectContaining({ source: "webhook", outcome: "error", errorCode: "DATABASE_UNAVAILABLE" })]);
    expect(errorSpy).toHaveBeenCalledWith("clerk-webhook", expect.stringContaining('"outcome":"failed"'));
    expect(await inboxRows()).toHaveLength(0);

    const up = handler();
    expect(await (await up.handle(signedRequest(event, { svixId: "msg_down" }))).json()).toEqual({ outcome: "created" });
    expect(await (await up.handle(signedRequest(event, { svixId: "msg_down" }))).json()).toEqual({ outcome: "duplicate" });
    expect(await inboxRows()).toHaveLength(1);
  });

  it("transient errors mid-transaction (40001, 40P01, 57P01, 53300) answer 503 with nothing recorded; the redelivery applies once", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    const events: UserSyncEvent[] = [];
    const wh = handler({ log: (entry) => entries.push(entry), onEvent: (event) => events.push(event) });
    // Raised by a host trigger, so the server sends exactly these SQLSTATEs mid-transaction. (A
    // real backend termination inside a transaction crashes postgres.js 3.4.9; a real lost
    // connection is exercised on a single statement below.)
    const codes = ["40001", "40P01", "57P01", "53300"];
    for (const code of codes) {
      const user = { ...ada, id: `user_transient_${code.toLowerCase()}` };
      const event = userEvent("user.created", user);
      const svixId = `msg_transient_${code}`;
      const response = await withTrigger("users", `raise exception using errcode = '${code}', message = 'injected ' || NEW.email;`, () => wh.handle(signedRequest(event, { svixId })));
      expect(response.status, code).toBe(503);
      expect(await response.json()).toEqual({ error: "database_unavailable" });
      expect((await inboxRows()).filter((row) => row.svix_id === svixId)).toEqual([]);
      expect(await userRow(user.id)).toBeNull();
      // Svix retries once the database answers again: applied once, then a duplicate.
      expect(await (await wh.handle(signedRequest(event, { svixId }))).json()).toEqual({ outcome: "created" });
      expect(await (await wh.handle(signedRequest(event, { svixId }))).json()).toEqual({ outcome: "duplicate" });
    }
    expect(entries.filter((entry) => "outcome" in entry && entry.outcome === "failed")).toEqual(
      codes.map((code): unknown => expect.objectContaining({ level: "error", status: 503, reason: `database_error: ${code}` })),
    );
    expect(events.filter((event) => event.outcome === "error")).toEqual(codes.map((): unknown => expect.objectContaining({ errorCode: "DATABASE_UNAVAILABLE" })));
    expect(wh.counts()).toMatchObject({ failed: codes.length, applied: codes.length, duplicate: codes.length, deadLettered: 0 });
    expect(await inboxRows()).toHaveLength(codes.length);
  });

  it("a schema the deployment has not migrated yet (42P01) answers 503, not a dead letter; once migrated, the retry applies", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    const wh = handler({ log: (entry) => entries.push(entry) });
    const event = userEvent("user.created", ada);
    await testDb.client.unsafe(`alter table clerk_webhook_events rename to clerk_webhook_events_pending`);
    const unmigrated = await wh
      .handle(signedRequest(event, { svixId: "msg_unmigrated" }))
      .finally(() => testDb.client.unsafe(`alter table clerk_webhook_events_pending rename to clerk_webhook_events`));
    expect(unmigrated.status).toBe(503);
    expect(entries).toEqual([expect.objectContaining({ outcome: "failed", reason: "database_error: 42P01" })]);
    expect(await userRow()).toBeNull();
    expect(await inboxRows()).toEqual([]);
    expect(await (await wh.handle(signedRequest(event, { svixId: "msg_unmigrated" }))).json()).toEqual({ outcome: "created" });
  });

  it("permanent errors (host trigger P0001, data exception 22P02, unique violation 23505) are rolled back, dead-lettered with the SQLSTATE and acknowledged", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    const events: UserSyncEvent[] = [];
    const wh = handler({ log: (entry) => entries.push(entry), onEvent: (event) => events.push(event) });
    expect(await (await wh.handle(signedRequest(userEvent("user.created", ada), { svixId: "msg_seed" }))).json()).toEqual({ outcome: "created" });
    const seeded = await userRow();

    // A host trigger refusing every write: an update of an existing row is rolled back whole.
    const update = userEvent("user.updated", { ...ada, lastName: "King", updatedAtMs: 2_000 });
    const refused = await withTrigger("users", "raise exception 'refused %', NEW.email;", () => wh.handle(signedRequest(update, { svixId: "msg_p0001" })));
    // A host trigger deriving a number from the name: a data exception for this payload.
    const grace = { id: "user_grace", email: "grace@example.com", firstName: "Grace", updatedAtMs: 1_000 };
    const dataException = await withTrigger("users", "perform NEW.first_name::int; return NEW;", () =>
      wh.handle(signedRequest(userEvent("user.created", grace), { svixId: "msg_22p02" })),
    );
    // A host's unique index on email: a second live user with Ada's address violates it.
    await testDb.client.unsafe(`create unique index host_users_email_unique on users (lower(email))`);
    const twin = { id: "user_twin", email: "ADA@example.com", firstName: "Twin", updatedAtMs: 1_000 };
    const constraint = await wh.handle(signedRequest(userEvent("user.created", twin), { svixId: "msg_23505" })).finally(() =>
      testDb.client.unsafe(`drop index host_users_email_unique`),
    );

    for (const response of [refused, dataException, constraint]) {
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ outcome: "dead_letter" });
    }
    // Nothing of the failed effects stayed: the update, Grace and the twin were rolled back.
    expect((await userRow())?.xmin).toBe(seeded?.xmin);
    expect(await userRow()).toMatchObject({ last_name: "Lovelace", clerk_updated_at: "1000" });
    expect(await userRow(grace.id)).toBeNull();
    expect(await userRow(twin.id)).toBeNull();
    const deadLetters = (await inboxRows()).filter((row) => row.outcome === "dead_letter");
    expect(deadLetters.map((row) => [row.svix_id, row.event_type, row.clerk_user_id, row.dead_letter_reason, row.processed_at])).toEqual([
      ["msg_22p02", "user.created", grace.id, "database_error: 22P02", null],
      ["msg_23505", "user.created", twin.id, "database_error: 23505", null],
      ["msg_p0001", "user.updated", ada.id, "database_error: P0001", null],
    ]);
    expect(entries.filter((entry) => "outcome" in entry && entry.outcome === "dead_letter")).toEqual(
      ["P0001", "22P02", "23505"].map((code): unknown => expect.objectContaining({ level: "warn", status: 200, reason: `database_error: ${code}` })),
    );
    expect(events.filter((event) => event.outcome === "error")).toEqual([1, 2, 3].map((): unknown => expect.objectContaining({ errorCode: "DATABASE_REJECTED" })));
    expect(wh.counts()).toMatchObject({ applied: 1, deadLettered: 3, failed: 0 });

    // A redelivery is acknowledged and changes nothing; once the operator has fixed the cause
    // and cleared the dead letter, a replay from the Svix dashboard applies the message.
    expect(await (await wh.handle(signedRequest(update, { svixId: "msg_p0001" }))).json()).toEqual({ outcome: "duplicate" });
    expect(await userRow()).toMatchObject({ last_name: "Lovelace" });
    expect(await wh.clearDeadLetters({ svixIds: ["msg_p0001"] })).toBe(1);
    expect(await (await wh.handle(signedRequest(update, { svixId: "msg_p0001" }))).json()).toEqual({ outcome: "updated" });
    expect(await userRow()).toMatchObject({ last_name: "King", clerk_updated_at: "2000" });
  });

  it("answers 503 when even the dead letter cannot be recorded (refused, or the connection lost); the redelivery records it", async () => {
    const entries: ClerkWebhookLogEntry[] = [];
    const wh = handler({ log: (entry) => entries.push(entry) });
    const event = userEvent("user.created", ada);
    const refuseUsers = "raise exception 'refused';";
    const refused = await withTrigger("users", refuseUsers, () =>
      withTrigger("clerk_webhook_events", "if NEW.outcome = 'dead_letter' then raise exception 'inbox refused'; end if; return NEW;", () =>
        wh.handle(signedRequest(event, { svixId: "msg_no_record" })),
      ),
    );
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: "database_unavailable" });

    // The backend recording the dead letter is terminated (a restart, a failover) mid-statement.
    const lost = await withTrigger("users", refuseUsers, () =>
      withTrigger("clerk_webhook_events", "if NEW.outcome = 'dead_letter' then perform pg_sleep(30); end if; return NEW;", async () => {
        const pending = wh.handle(signedRequest(event, { svixId: "msg_no_record" }));
        await expect
          .poll(async () => (await testDb.client`select pg_terminate_backend(pid) as terminated from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'`).length)
          .toBe(1);
        return pending;
      }),
    );
    expect(lost.status).toBe(503);
    expect(await inboxRows()).toEqual([]);
    expect(entries.filter((entry) => "outcome" in entry && entry.outcome === "failed")).toEqual([
      expect.objectContaining({ status: 503, reason: "dead_letter_not_recorded: database_error: P0001" }),
      expect.objectContaining({ status: 503, reason: "dead_letter_not_recorded: database_error: CONNECTION_CLOSED" }),
    ]);

    const recorded = await withTrigger("users", refuseUsers, () => wh.handle(signedRequest(event, { svixId: "msg_no_record" })));
    expect(await recorded.json()).toEqual({ outcome: "dead_letter" });
    expect(await inboxRows()).toEqual([expect.objectContaining({ svix_id: "msg_no_record", outcome: "dead_letter", dead_letter_reason: "database_error: P0001" })]);
    expect(wh.counts()).toMatchObject({ failed: 2, deadLettered: 1 });
  });
});

describe("logs", () => {
  it("no failure path puts emails or names in logs, responses, onEvent or dead-letter reasons (the database errors do quote them)", async () => {
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) => vi.spyOn(console, level).mockImplementation(() => undefined));
    const canary = { id: "user_canary", email: "canary.person@pii.example", firstName: "CanaryFirst", lastName: "CanaryLast", username: "canary_username", updatedAtMs: 10 };
    const canaries = ["canary.person", "pii.example", "CanaryFirst", "CanaryLast", "canary_username"];
    const events: UserSyncEvent[] = [];
    const wh = handler({ log: undefined, onEvent: (event) => events.push(event) });
    const bodies: string[] = [];
    let attempt = 0;
    const deliver = async (webhook: ReturnType<typeof handler>, event: ReturnType<typeof userEvent> | string) => {
      const response = await webhook.handle(signedRequest(event, { svixId: `msg_pii_${attempt++}` }));
      bodies.push(`${response.status} ${await response.text()}`);
    };
    const created = userEvent("user.created", canary);
    const quoteAll = (code: string) =>
      `raise exception using errcode = '${code}', message = format('refused %s %s %s %s', NEW.email, NEW.first_name, NEW.last_name, NEW.username);`;

    // The canaries do reach the errors: drizzle quotes the parameters, PostgreSQL the values.
    const direct = await withTrigger("users", quoteAll("P0001"), () =>
      countingDb.insert(users).values({ id: canary.id, email: canary.email, firstName: canary.firstName, clerkUpdatedAt: 1 }).then(() => null, (error: unknown) => error),
    );
    expect(String((direct as Error).message)).toContain(canary.email);
    expect(String(((direct as Error).cause as Error).message)).toContain(canary.email);

    // Permanent: a host trigger quoting the row, a cast of the name, a unique index on the email.
    await withTrigger("users", quoteAll("P0001"), () => deliver(wh, created));
    await withTrigger("users", "perform NEW.first_name::int; return NEW;", () => deliver(wh, created));
    await testDb.client`insert into users (id, email, clerk_updated_at) values ('user_holder', ${canary.email}, 1)`;
    await testDb.client.unsafe(`create unique index host_users_email_unique on users (lower(email))`);
    await deliver(wh, created).finally(() => testDb.client.unsafe(`drop index host_users_email_unique`));
    // Transient, with the row quoted in the message.
    await withTrigger("users", quoteAll("40001"), () => deliver(wh, created));
    // A dead letter that cannot be recorded either.
    await withTrigger("users", quoteAll("P0001"), () =>
      withTrigger("clerk_webhook_events", "raise exception 'inbox refused';", () => deliver(wh, created)),
    );
    // An unreachable database whose error message quotes a value, and a malformed payload.
    const broken = handler({ log: undefined, onEvent: (event) => events.push(event), db: () => Promise.reject(Object.assign(new Error(`connect ECONNREFUSED ${canary.email}`), { code: "ECONNREFUSED" })) });
    await deliver(broken, created);
    await deliver(wh, { ...created, data: { ...(created.data as object), email_addresses: canary.email } });

    const lines = spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(" ")));
    const inbox = JSON.stringify(await inboxRows());
    const emitted = JSON.stringify(events);
    for (const canaryValue of canaries) {
      expect(lines.filter((line) => line.includes(canaryValue)), canaryValue).toEqual([]);
      expect(bodies.filter((body) => body.includes(canaryValue)), canaryValue).toEqual([]);
      expect(emitted, canaryValue).not.toContain(canaryValue);
      expect(inbox, canaryValue).not.toContain(canaryValue);
    }
    // Every path above was taken, and said what happened in codes.
    expect(bodies).toEqual([
      '200 {"outcome":"dead_letter"}',
      '200 {"outcome":"dead_letter"}',
      '200 {"outcome":"dead_letter"}',
      '503 {"error":"database_unavailable"}',
      '503 {"error":"database_unavailable"}',
      '503 {"error":"database_unavailable"}',
      '200 {"outcome":"dead_letter"}',
    ]);
    const all = lines.join("\n");
    for (const reason of ["database_error: P0001", "database_error: 22P02", "database_error: 23505", "database_error: 40001", "dead_letter_not_recorded: database_error: P0001", "database_error: ECONNREFUSED", "malformed_user: email_addresses: invalid_type"]) {
      expect(all).toContain(`"reason":"${reason}"`);
    }
  });

  it("carry event type, svix-id, outcome and reason codes, never emails or names from payloads", async () => {
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) => vi.spyOn(console, level).mockImplementation(() => undefined));
    const secretPerson = { id: "user_grace", email: "grace.hopper@navy.example", firstName: "Grace-Secret", lastName: "Hopper-Secret", username: "ghopper_secret", updatedAtMs: 10 };
    const wh = handler({ log: undefined, onEvent: (event) => console.info("user-sync", JSON.stringify(event)) });
    const created = userEvent("user.created", secretPerson);
    await wh.handle(signedRequest(created, { svixId: "msg_log_1" }));
    await wh.handle(signedRequest(userEvent("user.updated", { ...secretPerson, updatedAtMs: 20 }), { svixId: "msg_log_2" }));
    await wh.handle(signedRequest(created, { svixId: "msg_log_1" }));
    await wh.handle(signedRequest({ ...created, data: { ...(created.data as object), email_addresses: "grace.hopper@navy.example" } }, { svixId: "msg_log_3" }));
    const tampered = signedHeaders(JSON.stringify(created), { svixId: "msg_log_4" });
    await wh.handle(new Request(webhookUrl, { method: "POST", headers: tampered, body: JSON.stringify({ ...created, type: "user.updated" }) }));
    await wh.handle(signedRequest(deletedEvent(secretPerson.id, 30), { svixId: "msg_log_5" }));
    const broken = handler({ log: undefined, db: () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED grace.hopper@navy.example"), { code: "ECONNREFUSED" })) });
    await broken.handle(signedRequest(userEvent("user.updated", { ...secretPerson, updatedAtMs: 40 }), { svixId: "msg_log_6" }));

    const lines = spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(" ")));
    expect(lines.length).toBeGreaterThanOrEqual(7);
    for (const secret of ["grace.hopper", "Grace-Secret", "Hopper-Secret", "ghopper_secret", "navy.example", testSigningSecret()]) {
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
    const all = lines.join("\n");
    for (const fragment of ['"svixId":"msg_log_1"', '"outcome":"duplicate"', '"outcome":"dead_letter"', '"reason":"invalid_signature"', '"outcome":"deleted"', '"reason":"database_error: ECONNREFUSED"', '"eventType":"user.updated"']) {
      expect(all).toContain(fragment);
    }
  });
});

/** A host trigger on `table` running `body` (PL/pgSQL) before each insert or update, while `run` runs. */
async function withTrigger<T>(table: "users" | "clerk_webhook_events", body: string, run: () => Promise<T>): Promise<T> {
  const name = `inject_${table}_failure`;
  await testDb.client.unsafe(`
    create function ${name}() returns trigger language plpgsql as $$ begin ${body} end $$;
    create trigger ${name} before insert or update on ${table} for each row execute function ${name}();`);
  try {
    return await run();
  } finally {
    await testDb.client.unsafe(`drop trigger if exists ${name} on ${table}; drop function if exists ${name}();`);
  }
}

function post(headers: Record<string, string>, body: string) {
  return new Request(webhookUrl, { method: "POST", headers, body });
}

function streamed(headers: Record<string, string>, body: string) {
  const bytes = new TextEncoder().encode(body);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < bytes.length; offset += 16 * 1024) controller.enqueue(bytes.slice(offset, offset + 16 * 1024));
      controller.close();
    },
  });
  return new Request(webhookUrl, { method: "POST", headers, body: stream, duplex: "half" } as RequestInit);
}
