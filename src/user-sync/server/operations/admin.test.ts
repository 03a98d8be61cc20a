/**
 * The admin handlers' own rules, with the reconciliation they call stood in by a function
 * (reconcile.ts is tested on its own): query parameters, 409 while locked, failures that are
 * never a bare 500 or a leak, and what gets logged.
 */
import { describe, expect, it } from "vitest";

import { createUserSyncAdmin, parseReconcileQuery, type AdminLogEntry } from "./admin";
import { UserSyncError } from "../errors";
import type { HealthReport } from "./health-rules";
import { ReconcileRefusedError, type ReconcileReport, type ReconcileRequest } from "../reconcile";

const key = "k".repeat(20) + "0123456789abcdef0123456789abcdef";
const previousKey = "p".repeat(40);

const healthyReport: HealthReport = {
  status: "healthy",
  clerkUsers: 1,
  clerkUsersReadAt: "2026-01-01T00:00:00.000Z",
  liveUsers: 1,
  tombstones: 0,
  discrepancy: 0,
  lastWebhookAt: null,
  webhookLagMs: null,
  selfHealLastHour: 0,
  selfHealLastDay: 0,
  outcomesLastDay: {},
  errorsLastHour: 0,
  deadLetters: 0,
  lastReconcile: null,
  configOk: true,
  problems: [],
  problemDetails: [],
};

function report(request: ReconcileRequest): ReconcileReport {
  return {
    runId: "run_1",
    dryRun: request.dryRun,
    mode: request.mode,
    status: "succeeded",
    counts: { missing: 1, stale: 0, deleted: 0, unchanged: 3 },
    changes: [{ userId: "user_new", kind: "missing", fields: ["email", "firstName"] }],
    truncated: false,
    wouldDelete: 0,
    deletionLimit: 10,
    unconfirmed: 0,
    liveRows: 3,
    instanceKeyId: "ins_test",
    clerkRequests: 2,
    durationMs: 12,
    malformed: 0,
    resumed: false,
    timings: { databaseMs: 5, clerkMs: 7, longestDatabaseCallMs: 2 },
  };
}

class ReconcileLockedError extends Error {
  constructor() {
    super("Another reconciliation run holds the lock");
    this.name = "ReconcileLockedError";
  }
}

function admin(options: { reconcile?: (request: ReconcileRequest) => Promise<ReconcileReport>; health?: () => Promise<HealthReport>; apiKey?: string } = {}) {
  const logs: AdminLogEntry[] = [];
  const calls: ReconcileRequest[] = [];
  const handler = createUserSyncAdmin({
    apiKey: "apiKey" in options ? options.apiKey : key,
    previousApiKey: previousKey,
    health: { check: options.health ?? (() => Promise.resolve(healthyReport)) },
    reconcile: async (request) => {
      calls.push(request);
      return (options.reconcile ?? ((r) => Promise.resolve(report(r))))(request);
    },
    log: (entry) => logs.push(entry),
  });
  return { handler, logs, calls };
}

function post(query = "", authorization = `Bearer ${key}`) {
  return new Request(`http://localhost:3000/api/admin/user-sync/reconcile${query}`, { method: "POST", headers: { authorization } });
}

describe("POST reconcile", () => {
  it("defaults to a full dry run and answers the run's report", async () => {
    const { handler, calls } = admin();
    const response = await handler.reconcile(post());
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(report({ dryRun: true, mode: "full" }));
    expect(calls).toEqual([{ dryRun: true, mode: "full" }]);
  });

  it("applies and runs incrementally only when asked exactly so", async () => {
    const { handler, calls } = admin();
    expect((await handler.reconcile(post("?dry_run=false&mode=incremental"))).status).toBe(200);
    expect((await handler.reconcile(post("?mode=incremental&dry_run=true", `Bearer ${previousKey}`))).status).toBe(200);
    expect(calls).toEqual([
      { dryRun: false, mode: "incremental" },
      { dryRun: true, mode: "incremental" },
    ]);
  });

  it("force=true (with dry_run=false only) asks the run to apply every confirmed deletion", async () => {
    const { handler, calls } = admin();
    expect((await handler.reconcile(post("?dry_run=false&force=true"))).status).toBe(200);
    expect((await handler.reconcile(post("?dry_run=false&force=false"))).status).toBe(200);
    expect(calls).toEqual([
      { dryRun: false, mode: "full", force: true },
      { dryRun: false, mode: "full" },
    ]);
  });

  it.each([
    ["?force=true", "force=true applies tombstones: it needs dry_run=false"],
    ["?dry_run=false&force=yes", "force must be true or false"],
    ["?dry_run=no", "dry_run must be true or false"],
    ["?dry_run=", "dry_run must be true or false"],
    ["?dry_run=FALSE", "dry_run must be true or false"],
    ["?mode=partial", "mode must be full or incremental"],
    ["?dry_run=false&dry_run=true", "dry_run is given more than once"],
    ["?dryrun=false", "Unknown query parameter: only dry_run, mode and force are accepted"],
    ["?dry_run=false&user=ada@example.com", "Unknown query parameter: only dry_run, mode and force are accepted"],
  ])("400 for %s, and no run", async (query, message) => {
    const { handler, calls } = admin();
    const response = await handler.reconcile(post(query));
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: "bad_request", message });
    expect(body).not.toContain("ada@example.com");
    expect(calls).toEqual([]);
  });

  it("checks the key before the parameters: a bad query without the key is 401", async () => {
    const { handler, calls } = admin();
    expect((await handler.reconcile(post("?dry_run=no", "Bearer nope"))).status).toBe(401);
    expect(calls).toEqual([]);
  });

  it("409 while another run holds the lock", async () => {
    const { handler } = admin({ reconcile: () => Promise.reject(new ReconcileLockedError()) });
    const response = await handler.reconcile(post("?dry_run=false"));
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({ error: "reconcile_in_progress", message: "Another reconciliation run holds the lock" });
  });

  it("422 mass_deletion_refused with wouldDelete, limit and the run's report", async () => {
    const refused = { ...report({ dryRun: false, mode: "full" }), status: "refused" as const, wouldDelete: 40, deletionLimit: 10 };
    const { handler } = admin({ reconcile: () => Promise.reject(new ReconcileRefusedError("MASS_DELETION_REFUSED", "would tombstone 40 users", refused)) });
    const response = await handler.reconcile(post("?dry_run=false"));
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({ ...refused, error: "mass_deletion_refused", message: "would tombstone 40 users", wouldDelete: 40, limit: 10 });
  });

  it.each([
    ["CLERK_INSTANCE_MISMATCH", 502, "clerk_instance_mismatch"],
    ["CLERK_INSTANCE_UNPROVEN", 503, "clerk_instance_unproven"],
    ["INCREMENTAL_TOO_DEEP", 422, "incremental_too_deep"],
  ] as const)("a run refused with %s → %i %s, with its message and run id", async (code, status, error) => {
    const refused = { ...report({ dryRun: true, mode: "full" }), status: "refused" as const };
    const { handler } = admin({ reconcile: () => Promise.reject(new ReconcileRefusedError(code, "why", refused)) });
    const response = await handler.reconcile(post());
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error, message: "why", runId: "run_1" });
  });

  it.each([
    [new UserSyncError("CLERK_UNAVAILABLE", "Clerk's Backend API failed (503)"), 502, "clerk_unavailable"],
    [new UserSyncError("CLERK_TIMEOUT", "Clerk did not answer"), 504, "clerk_timeout"],
    [new UserSyncError("DATABASE_UNAVAILABLE", "The database is unavailable"), 503, "database_unavailable"],
    [Object.assign(new Error('duplicate key value (email)=(ada@example.com)'), { code: "23505" }), 500, "database_error"],
    [Object.assign(new Error("Connection terminated"), { code: "57P01" }), 503, "database_unavailable"],
    [Object.assign(new Error("Clerk's Backend API failed during reconciliation (503)"), { name: "ReconcileClerkError", code: "CLERK_UNAVAILABLE" }), 502, "clerk_unavailable"],
    [new TypeError("Cannot read properties of undefined (reading 'email' of ada@example.com)"), 500, "internal_error"],
  ])("a failed run (%s) → %i with a code only", async (error, status, code) => {
    const { handler, logs } = admin({ reconcile: () => Promise.reject(error) });
    const response = await handler.reconcile(post());
    expect(response.status).toBe(status);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ error: code });
    expect(body + JSON.stringify(logs)).not.toContain("ada@example.com");
    expect(logs).toEqual([{ level: "error", endpoint: "reconcile", status, reason: expect.any(String) as string }]);
  });

  it("passes Clerk's Retry-After on when a run was rate limited", async () => {
    const { handler } = admin({ reconcile: () => Promise.reject(new UserSyncError("CLERK_RATE_LIMITED", "limited", { retryAfterSeconds: 7 })) });
    const response = await handler.reconcile(post());
    expect(response.status).toBe(502);
    expect(response.headers.get("retry-after")).toBe("7");
  });

  it("503 reconcile_not_configured when the host wired no reconciliation", async () => {
    const handler = createUserSyncAdmin({ apiKey: key, health: { check: () => Promise.resolve(healthyReport) }, log: () => undefined });
    const response = await handler.reconcile(post());
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "reconcile_not_configured" });
  });
});

describe("GET health", () => {
  it("503 with a failing status when the database cannot be read", async () => {
    const { handler } = admin({ health: () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })) });
    const response = await handler.health(new Request("http://localhost:3000/api/admin/user-sync/health", { headers: { authorization: `Bearer ${key}` } }));
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: "failing",
      configOk: null,
      problems: ["database_unavailable: the health figures could not be read"],
      problemDetails: [{ code: "database_unavailable", severity: "failing", message: "the health figures could not be read" }],
    });
  });
});

describe("keys", () => {
  it("logs one line per request with the status, never the key or the header", async () => {
    const { handler, logs } = admin();
    await handler.health(new Request("http://localhost:3000/x", { headers: { authorization: `Bearer ${key}` } }));
    await handler.health(new Request("http://localhost:3000/x", { headers: { authorization: `Bearer ${key.slice(0, -1)}` } }));
    expect(logs).toEqual([
      { level: "info", endpoint: "health", status: 200 },
      { level: "warn", endpoint: "health", status: 401, reason: "unauthorized" },
    ]);
    expect(JSON.stringify(logs)).not.toContain(key.slice(0, 20));
  });

  it("an empty key is no key: 503, even for 'Bearer ' and the previous key", async () => {
    const { handler } = admin({ apiKey: "" });
    for (const authorization of ["Bearer ", `Bearer ${previousKey}`, ""]) {
      const response = await handler.health(new Request("http://localhost:3000/x", { headers: { authorization } }));
      expect(response.status).toBe(503);
    }
  });
});

describe("parseReconcileQuery", () => {
  it("reads nothing but dry_run and mode", () => {
    expect(parseReconcileQuery(new URLSearchParams(""))).toEqual({ dryRun: true, mode: "full" });
    expect(parseReconcileQuery(new URLSearchParams("dry_run=false"))).toEqual({ dryRun: false, mode: "full" });
  });
});
