import { spawn } from "node:child_process";
import path from "node:path";

import { expect } from "vitest";

import { clerkApiUrl, type ClerkUserDirectory, type DirectoryUser, testSessionKeyId, testUsers as users } from "../../testing";
import { type TestDatabase } from "../test-database";

import type { ClerkBudget } from "../clerk/budget";
import type { ClerkUserSnapshot } from "../clerk/user-json";
import { syncedTableOf } from "../schema";
import { upsertClerkUser } from "../write-path";
import { ReconcileLockedError } from "./errors";
import type { ReconcileReport } from "./report";
import type { ReconcileOptions } from "./options";
import { runReconcile } from "./run";

/**
 * Test support (imported by tests only): what reconciliation tests share: people in Clerk and in the mirror, the mirror's state, a run
 * with the tests' Clerk (msw) and instance, and the CLI in a child process.
 */
export type Person = Omit<DirectoryUser, "createdAtMs">;

export const person = (id: string, updatedAtMs = 1_000, overrides: Partial<Person> = {}): Person => ({
  id,
  email: `${id}@example.com`,
  firstName: `First ${id}`,
  lastName: `Last ${id}`,
  updatedAtMs,
  ...overrides,
});

/** For tests about other things than Clerk's limit (those use the PostgreSQL budget). */
export const unlimitedBudget: ClerkBudget = { acquire: async () => true, pause: async () => undefined };

/** The tests' Clerk (msw's directory), and the instance id whose key its JWKS serve. */
export const testClerk = () => ({ clerk: { secretKey: "sk_live_vitest", apiUrl: clerkApiUrl() }, instanceId: testSessionKeyId });

export function reconcileFixtures(testDb: TestDatabase) {
  const table = syncedTableOf(users);

  /** What the write path stores for a Clerk user (the mock's image URL, the primary email). */
  const snapshotOf = (p: Person): ClerkUserSnapshot => ({
    id: p.id,
    email: p.email ?? null,
    phoneNumber: null,
    firstName: p.firstName ?? null,
    lastName: p.lastName ?? null,
    username: p.username ?? null,
    imageUrl: `https://img.clerk.test/${p.id}.png`,
    banned: false,
    locked: false,
    clerkUpdatedAtMs: p.updatedAtMs,
  });

  const reconcile = (options: Partial<ReconcileOptions> = {}) =>
    runReconcile({ db: testDb.db, users, budget: unlimitedBudget, ...testClerk(), ...options });
  /** The mirror's state without bookkeeping times: what two runs must agree on. */
  const mirrorState = () =>
    testDb.client<{ id: string; tier: string }[]>`
      select id, email, first_name, last_name, username, image_url, deleted_at is not null as deleted, tier,
        -- a tombstone's clock is the time Clerk confirmed the deletion: it differs between runs
        case when deleted_at is null then clerk_updated_at::text end as clerk_updated_at
      from users order by id`;

  return {
    table,
    snapshotOf,
    reconcile,
    mirrorState,
    /**
     * The mirror a resumed run left is the one an uninterrupted run makes from the same start:
     * empties the database, seeds it again, runs once and compares the state and the counts.
     */
    expectSameAsUninterrupted: async (seed: () => Promise<void>, resumed: ReconcileReport) => {
      const resumedState = await mirrorState();
      await testDb.truncate();
      await seed();
      const uninterrupted = await reconcile({ dryRun: false });
      expect(await mirrorState()).toEqual(resumedState);
      expect(resumed.counts).toEqual(uninterrupted.counts);
      return uninterrupted;
    },
    mirror: async (p: Person) => {
      await upsertClerkUser(testDb.db, table, snapshotOf(p));
    },
    /** Many live rows at once (one statement), for mirrors of thousands. */
    mirrorMany: async (ids: string[], updatedAtMs = 1_000) => {
      await testDb.client`
        insert into users (id, email, first_name, last_name, image_url, clerk_updated_at)
        select id, id || '@example.com', 'First ' || id, 'Last ' || id, 'https://img.clerk.test/' || id || '.png', ${updatedAtMs}
        from unnest(${ids}::text[]) as id`;
    },
    rowVersions: async () => {
      const rows = await testDb.client<{ id: string; xmin: string }[]>`select id, xmin::text from users order by id`;
      return Object.fromEntries(rows.map((r) => [r.id, r.xmin]));
    },
    liveIds: async () => {
      const rows = await testDb.client<{ id: string }[]>`select id from users where deleted_at is null order by id`;
      return rows.map((r) => r.id);
    },
    runRows: () =>
      testDb.client<{ id: string; status: string; error_code: string | null; phase: string; walk_cursor: string | null; walked: number }[]>`
        select id, status, error_code, phase, walk_cursor, walked, would_delete, unconfirmed, deletion_limit, live_rows from user_sync_reconcile_runs order by started_at`,
  };
}

/** `npm run users:reconcile` in a child process, against `clerkUrl` and the test database, the tests' instance. */
export function spawnReconcileCli(args: string[], env: { databaseUrl: string; clerkUrl: string } & Record<string, string>) {
  const { databaseUrl, clerkUrl, ...extra } = env;
  const child = spawn(process.execPath, ["--conditions=react-server", "--import", "tsx", path.resolve("scripts/users-reconcile.ts"), ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, CLERK_API_URL: clerkUrl, CLERK_INSTANCE_ID: testSessionKeyId, NODE_ENV: "production", ...extra },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Polls `probe` until it answers something truthy (a liveness bound, not a timing assertion). */
export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** From the `pages`th page of Clerk's list on, list requests wait unanswered (a run is mid-walk); answers the release. */
export function holdListAfterPages(directory: ClerkUserDirectory, pages: number) {
  let release = () => undefined as void;
  let served = 0;
  directory.onListPage(() => {
    if (++served === pages) release = directory.hold();
  });
  return () => {
    directory.onListPage(null);
    release();
  };
}

/** Starts runs until one is not refused with `ReconcileLockedError`: a stopped holder's lease has expired. */
export function afterLeaseExpiry<T>(start: () => Promise<T>): Promise<T> {
  return waitFor(() =>
    start().catch((error: unknown) => {
      if (error instanceof ReconcileLockedError) return null;
      throw error;
    }),
  );
}
