/**
 * `POST /api/admin/user-sync/reconcile` through the app (the real src/proxy.ts, the route, the
 * host's plugin instance and env, the real Clerk SDK against msw, the real PostgreSQL server),
 * and beside a second process (the CLI) running reconciliation on the same database.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";

import { setupServer } from "msw/node";
import type { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { createTestDatabase, useDatabaseForApp, type TestDatabase } from "~/test/app-database";
import { createClerkUserDirectory } from "clerk-user-sync/testing";
import { sendThroughApp } from "~/test/next-app";

type Route = (req: NextRequest) => Promise<Response>;

const adminKey = randomBytes(32).toString("hex");
const directory = createClerkUserDirectory();
const server = setupServer(...directory.handlers());
let testDb: TestDatabase;
let reconcileRoute: Route;
let healthRoute: Route;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  testDb = await createTestDatabase("reconcile_route");
  useDatabaseForApp(testDb.url);
  process.env.ADMIN_API_KEY = adminKey;
  // The app's Clerk instance: the key id msw's JWKS serve for this instance.
  process.env.CLERK_INSTANCE_ID = "ins_test";
  reconcileRoute = (await import("./route")).POST;
  healthRoute = (await import("../health/route")).GET;
});
beforeEach(async () => {
  directory.reset();
  // The app logs one line per admin request and per write; they are not under test here.
  vi.spyOn(console, "info").mockImplementation(() => undefined);
  await testDb.truncate();
});
afterEach(() => {
  vi.restoreAllMocks();
  server.resetHandlers();
});
afterAll(async () => {
  server.close();
  delete process.env.ADMIN_API_KEY;
  delete process.env.CLERK_INSTANCE_ID;
  await testDb.close();
});

const auth = { authorization: `Bearer ${adminKey}` };
const post = (query: string) => sendThroughApp(reconcileRoute, `/api/admin/user-sync/reconcile${query}`, { method: "POST", headers: auth });

const person = (id: string) => ({ id, email: `${id}@example.com`, firstName: "First", lastName: id, updatedAtMs: 2_000 });

describe("POST /api/admin/user-sync/reconcile", () => {
  it("dry run by default, then apply: the report, the repaired mirror, and the health view's last run", async () => {
    directory.add(person("user_a"));
    directory.add(person("user_b"));
    await testDb.client`insert into users (id, email, clerk_updated_at) values ('user_gone', 'gone@example.com', 1)`;

    const dry = await post("");
    expect(dry.status).toBe(200);
    const dryReport = (await dry.json()) as { runId: string; counts: unknown; changes: { userId: string; kind: string }[] };
    expect(dryReport).toMatchObject({ dryRun: true, mode: "full", counts: { missing: 2, stale: 0, deleted: 1, unchanged: 0 }, truncated: false });
    expect(dryReport.changes.map((c) => `${c.kind}:${c.userId}`).sort()).toEqual(["deleted:user_gone", "missing:user_a", "missing:user_b"]);
    expect(await testDb.client`select id from users where deleted_at is null`).toEqual([{ id: "user_gone" }]);

    const applied = await post("?dry_run=false&mode=full");
    expect(applied.status).toBe(200);
    const report = (await applied.json()) as { runId: string; durationMs: number; clerkRequests: number };
    expect(report).toMatchObject({ dryRun: false, counts: { missing: 2, stale: 0, deleted: 1, unchanged: 0 } });
    // JWKS (the proof of instance), Clerk's count, one page, one confirmation (the filtered page and its count).
    expect(report.clerkRequests).toBe(5);
    const live = await testDb.client`select id from users where deleted_at is null order by id`;
    expect(live).toEqual([{ id: "user_a" }, { id: "user_b" }]);

    const health = await sendThroughApp(healthRoute, "/api/admin/user-sync/health", { headers: auth });
    expect(((await health.json()) as { lastReconcile: unknown }).lastReconcile).toMatchObject({
      runId: report.runId,
      dryRun: false,
      counts: { missing: 2, stale: 0, deleted: 1, unchanged: 0 },
    });
  });

  it("a mass deletion over the guard's limit: 422 with wouldDelete, limit and the report (creates applied, no tombstone); force=true applies it", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `user_${String(i).padStart(3, "0")}`);
    for (const id of ids.slice(20)) directory.add(person(id));
    directory.add(person("user_new"));
    await testDb.client`insert into users (id, email, clerk_updated_at) select id, id || '@example.com', 1 from unnest(${ids}::text[]) as id`;

    const refused = await post("?dry_run=false");
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({
      error: "mass_deletion_refused",
      wouldDelete: 20,
      limit: 10,
      runId: expect.any(String) as string,
      status: "refused",
      counts: { missing: 1, deleted: 0 },
    });
    expect((await testDb.client`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe(101);

    const forced = await post("?dry_run=false&force=true");
    expect(forced.status).toBe(200);
    expect(await forced.json()).toMatchObject({ status: "succeeded", counts: { deleted: 20 } });
    expect((await testDb.client`select count(*)::int as n from users where deleted_at is null`)[0]?.n).toBe(81);
  });

  it("a Backend API of another Clerk instance: 502 clerk_instance_mismatch, nothing written", async () => {
    directory.add(person("user_a"));
    await testDb.client`insert into users (id, email, clerk_updated_at) values ('user_live', 'live@example.com', 1)`;
    directory.setInstance("other");
    for (const query of ["?dry_run=false", ""]) {
      const response = await post(query);
      expect(response.status).toBe(502);
      expect(await response.json()).toMatchObject({ error: "clerk_instance_mismatch", message: expect.stringMatching(/another Clerk instance/) as string });
    }
    expect(await testDb.client`select id, deleted_at from users`).toEqual([{ id: "user_live", deleted_at: null }]);
  });

  it("answers 409 while another app process (the CLI) holds the run; the next call runs", async () => {
    for (let i = 0; i < 600; i++) directory.add(person(`user_${String(i).padStart(4, "0")}`));
    const release = directory.hold();
    const http = await directory.listen();
    try {
      const cli = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.resolve("scripts/users-reconcile.ts"), "--apply"], {
        env: { ...process.env, DATABASE_URL: testDb.url, CLERK_API_URL: http.url, NODE_ENV: "production" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      const exited = new Promise<number | null>((resolve) => cli.on("exit", resolve));
      for (let waited = 0; ; waited += 50) {
        const [running] = await testDb.client`select id from user_sync_reconcile_runs where status = 'running'`;
        if (running) break;
        if (waited > 30_000) throw new Error("the CLI never started its run");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const refused = await post("?dry_run=false");
      expect(refused.status).toBe(409);
      expect(await refused.json()).toEqual({ error: "reconcile_in_progress", message: "Another reconciliation run holds the lock" });

      release();
      expect(await exited).toBe(0);
      const after = await post("?dry_run=true");
      expect(after.status).toBe(200);
      expect(await after.json()).toMatchObject({ counts: { missing: 0, stale: 0, deleted: 0, unchanged: 600 } });
    } finally {
      release();
      await http.close();
    }
  }, 60_000);
});
