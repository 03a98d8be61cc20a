import "server-only";

import { asc, count, desc, isNull } from "drizzle-orm";

import { getDb } from "~/server/db";
import { users, type User } from "~/server/db/schema";
import { userSync } from "~/server/user-sync";
import type { HealthReport, HourlySeries, ReconcileMode, ReconcileReport, ReconcileRunView } from "clerk-user-sync/server";

/** One hour of webhook deliveries, by what they did (`created`, `updated`, …, `dead_letter`). */
export type WebhookHour = HourlySeries["webhookHours"][number];

/** One hour of write attempts by source and outcome, with its self-heals and webhook writes. */
export type WriteHour = HourlySeries["writeHours"][number];

/** The console's figures: the plugin's health report plus hourly series for the charts. */
export type ConsoleOverview = HourlySeries & {
  health: HealthReport;
  generatedAt: string;
};

/**
 * The console's figures. Status, problems and the headline figures are the plugin's health
 * report (the same one `/api/admin/user-sync/health` answers); the last 24 hours of the plugin's
 * hourly series are read after it, so this instance's buffered telemetry (flushed by the health
 * check) is included.
 */
export async function readConsoleOverview(nowMs = Date.now()): Promise<ConsoleOverview> {
  const health = await userSync.health.check();
  const { webhookHours, writeHours } = await userSync.hourly({ hours: 24, now: nowMs });
  return { health, webhookHours, writeHours, generatedAt: new Date(nowMs).toISOString() };
}

type ReconcileCounts = ReconcileReport["counts"];
type ReconcileChange = ReconcileReport["changes"][number];
type ReconcileChangeKind = ReconcileChange["kind"];

/** How many changes of each kind the console lists for a run (the run row keeps up to 1000). */
export const consoleChangesPerKind = 100;

/** One reconciliation run as the console shows it: progress while it runs, its diff once it has one. */
export type ConsoleReconcileRun = {
  id: string;
  mode: ReconcileMode;
  dryRun: boolean;
  status: ReconcileRunView["status"];
  phase: ReconcileRunView["phase"];
  /** Users of Clerk's list walked so far, and Clerk's count when the walk started (null before it). */
  walked: number;
  clerkTotal: number | null;
  counts: ReconcileCounts;
  /** Live rows Clerk conclusively said are gone, and the most tombstones the run may write (null before the deletion check). */
  wouldDelete: number;
  deletionLimit: number | null;
  /** Live rows whose deletion Clerk did not confirm conclusively: left alone, checked again next run. */
  unconfirmed: number;
  /** Live mirror rows the deletion check went through. */
  liveRows: number;
  clerkRequests: number;
  /** Why it failed or was refused: a Clerk or guard code (e.g. `MASS_DELETION_REFUSED`, `CLERK_INSTANCE_MISMATCH`). */
  errorCode: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** The first `consoleChangesPerKind` changes of each kind, in the order the run found them. */
  changes: Record<ReconcileChangeKind, ReconcileChange[]>;
  /** The run found more changes than `changes` lists. */
  truncated: boolean;
  /** `running`, but no live lease works on it: the process running it stopped (the next full apply resumes an apply run). */
  interrupted: boolean;
};

function consoleRunOf(run: ReconcileRunView): ConsoleReconcileRun {
  const changes = { missing: [], stale: [], deleted: [] } as Record<ReconcileChangeKind, ReconcileChange[]>;
  let dropped = false;
  for (const change of run.changes) {
    const list = changes[change.kind];
    if (list.length < consoleChangesPerKind) list.push(change);
    else dropped = true;
  }
  return {
    id: run.id,
    mode: run.mode,
    dryRun: run.dryRun,
    status: run.status,
    phase: run.phase,
    walked: run.walked,
    clerkTotal: run.clerkTotal,
    counts: { missing: run.missing, stale: run.stale, deleted: run.deleted, unchanged: run.unchanged },
    wouldDelete: run.wouldDelete,
    deletionLimit: run.deletionLimit,
    unconfirmed: run.unconfirmed,
    liveRows: run.liveRows,
    clerkRequests: run.clerkRequests,
    errorCode: run.errorCode,
    startedAt: new Date(run.startedAt).toISOString(),
    finishedAt: run.finishedAt ? new Date(run.finishedAt).toISOString() : null,
    changes,
    truncated: run.truncated || dropped,
    interrupted: run.interrupted,
  };
}

/** The run with this id, else the one started last (any status, any source); null when there is none. */
export async function readReconcileRun(runId?: string): Promise<ConsoleReconcileRun | null> {
  const run = await userSync.reconcileRun(runId);
  return run ? consoleRunOf(run) : null;
}

/**
 * Starts a reconciliation with the plugin (`userSync.startReconcile`) and answers its run as soon
 * as its row exists; the run goes on after the response (the plugin hands it to Next's `after()`),
 * and the console polls its row. Rejects with `ReconcileLockedError` at once when another run, on
 * any instance, holds the lease. `allowDeletionsUpTo`: the admin confirmed that many tombstones of
 * a refused mass deletion.
 */
export async function startConsoleReconcile(request: {
  dryRun: boolean;
  mode: ReconcileMode;
  allowDeletionsUpTo?: number;
}): Promise<{ runId: string; run: ConsoleReconcileRun | null }> {
  const { runId } = await userSync.startReconcile(request);
  return { runId, run: await readReconcileRun(runId) };
}

/** One page of the console's users table. */
export type ConsoleUsersPage = {
  users: { id: string; email: string | null; phoneNumber: string | null; name: string | null; tier: User["tier"]; createdAt: string }[];
  total: number;
  page: number;
  pageSize: number;
};

/** Live users, newest first, `pageSize` per page (page 0 is the first). */
export async function readConsoleUsers(page: number, pageSize: number): Promise<ConsoleUsersPage> {
  const db = await getDb();
  const live = isNull(users.deletedAt);
  const [rows, [counted]] = await Promise.all([
    db
      .select({ id: users.id, email: users.email, phoneNumber: users.phoneNumber, firstName: users.firstName, lastName: users.lastName, tier: users.tier, createdAt: users.createdAt })
      .from(users)
      .where(live)
      .orderBy(desc(users.createdAt), asc(users.id))
      .limit(pageSize)
      .offset(page * pageSize),
    db.select({ total: count() }).from(users).where(live),
  ]);
  return {
    users: rows.map((row) => ({
      id: row.id,
      email: row.email,
      phoneNumber: row.phoneNumber,
      name: [row.firstName, row.lastName].filter(Boolean).join(" ") || null,
      tier: row.tier,
      createdAt: row.createdAt.toISOString(),
    })),
    total: counted?.total ?? 0,
    page,
    pageSize,
  };
}
