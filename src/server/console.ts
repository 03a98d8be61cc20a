import "server-only";

import { asc, count, desc, isNull, sql } from "drizzle-orm";
import { after } from "next/server";

import { getDb } from "~/server/db";
import { users, type User } from "~/server/db/schema";
import { userSync } from "~/server/user-sync";
import { ReconcileLockedError, type HealthReport, type ReconcileMode, type ReconcileReport, type ReconcileRunView } from "clerk-user-sync/server";

/** One hour of webhook deliveries, by what they did (`created`, `updated`, …, `dead_letter`). */
export type WebhookHour = { hourStart: string; counts: Record<string, number>; total: number };

/** One hour of write attempts from `user_sync_write_stats`: `counts[source][outcome]`. */
export type WriteHour = {
  hourStart: string;
  counts: Record<string, Record<string, number>>;
  /** `client-sync` writes that changed the mirror (created, updated, restored): the self-heal path. */
  selfHeals: number;
  /** Write attempts of the `webhook` source. */
  webhookWrites: number;
};

/** The console's figures: the plugin's health report plus hourly series for the charts. */
export type ConsoleOverview = {
  health: HealthReport;
  /** The last 24 hours, oldest first, one entry per hour (zeros included). */
  webhookHours: WebhookHour[];
  /** The same 24 hours of write attempts by source and outcome. */
  writeHours: WriteHour[];
  generatedAt: string;
};

// postgres.js answers an array of rows, PGlite `{ rows }`.
function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[];
}

const hourMs = 3_600_000;
const selfHealOutcomes = new Set(["created", "updated", "restored"]);

function emptyHours<T>(firstHourMs: number, make: (hourStart: string) => T): T[] {
  return Array.from({ length: 24 }, (_, i) => make(new Date(firstHourMs + i * hourMs).toISOString()));
}

/**
 * The console's figures. Status, problems and the headline figures are the plugin's health
 * report (the same one `/api/admin/user-sync/health` answers); the hourly series are read
 * after it, so this instance's buffered telemetry (flushed by the health check) is included.
 */
export async function readConsoleOverview(nowMs = Date.now()): Promise<ConsoleOverview> {
  const health = await userSync.health.check();
  const db = await getDb();
  const firstHourMs = nowMs - (nowMs % hourMs) - 23 * hourMs;
  const since = new Date(firstHourMs).toISOString();
  const [deliveries, writes] = await Promise.all([
    db.execute(sql`
      select date_trunc('hour', received_at) as hour_start, outcome, count(*)::int as n
      from clerk_webhook_events
      where received_at >= ${since}::timestamptz
      group by 1, 2`),
    db.execute(sql`
      select date_trunc('hour', bucket_start) as hour_start, source, outcome, sum(count)::float8 as n
      from user_sync_write_stats
      where bucket_start >= ${since}::timestamptz
      group by 1, 2, 3`),
  ]);
  const indexOf = (hourStart: string | Date) => Math.round((new Date(hourStart).getTime() - firstHourMs) / hourMs);

  const webhookHours = emptyHours<WebhookHour>(firstHourMs, (hourStart) => ({ hourStart, counts: {}, total: 0 }));
  for (const row of rowsOf<{ hour_start: string | Date; outcome: string; n: number }>(deliveries)) {
    const hour = webhookHours[indexOf(row.hour_start)];
    if (!hour) continue;
    hour.counts[row.outcome] = (hour.counts[row.outcome] ?? 0) + Number(row.n);
    hour.total += Number(row.n);
  }

  const writeHours = emptyHours<WriteHour>(firstHourMs, (hourStart) => ({ hourStart, counts: {}, selfHeals: 0, webhookWrites: 0 }));
  for (const row of rowsOf<{ hour_start: string | Date; source: string; outcome: string; n: number }>(writes)) {
    const hour = writeHours[indexOf(row.hour_start)];
    if (!hour) continue;
    const n = Number(row.n);
    const bySource = (hour.counts[row.source] ??= {});
    bySource[row.outcome] = (bySource[row.outcome] ?? 0) + n;
    if (row.source === "client-sync" && selfHealOutcomes.has(row.outcome)) hour.selfHeals += n;
    if (row.source === "webhook") hour.webhookWrites += n;
  }

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
 * Starts a reconciliation with the plugin's reconciler and answers its run as soon as its row
 * exists (the lease taken, nothing else done yet); the run goes on in this server process (the
 * console polls its row, so it survives the admin leaving the page). Rejects with
 * `ReconcileLockedError` at once when another run, on any instance, holds the lease.
 * `allowDeletionsUpTo`: the admin confirmed that many tombstones of a refused mass deletion.
 */
export async function startConsoleReconcile(request: {
  dryRun: boolean;
  mode: ReconcileMode;
  allowDeletionsUpTo?: number;
}): Promise<{ runId: string; run: ConsoleReconcileRun | null }> {
  let started: (runId: string) => void = () => undefined;
  const runIdKnown = new Promise<string>((resolve) => (started = resolve));
  const run = userSync.reconcile({ ...request, onProgress: (progress) => started(progress.runId) });
  run.catch((error: unknown) => {
    // The run row records the failure (status, error code); the log line carries the code only.
    if (error instanceof ReconcileLockedError) return;
    const code = (error as { code?: unknown } | null)?.code;
    console.warn(JSON.stringify({ at: "console-reconcile", error: typeof code === "string" ? code : error instanceof Error ? error.name : "unknown" }));
  });
  keepAliveAfterResponse(run);
  const runId = await Promise.race([runIdKnown, run.then((report) => report.runId)]);
  return { runId, run: await readReconcileRun(runId) };
}

/**
 * On serverless hosts the function may stop once the response is sent: Next's `after()` keeps
 * it alive until the run settles (`waitUntil` underneath). Outside a request (tests, scripts)
 * `after` throws, and the process outlives the run anyway.
 */
function keepAliveAfterResponse(work: Promise<unknown>) {
  try {
    after(() => work.then(() => undefined, () => undefined));
  } catch {
    // Not in a request scope.
  }
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
