import { desc, eq, sql } from "drizzle-orm";

import { defaultUserSyncTables, type ReconcileMode, type ReconcileRunRow, type UserSyncTables } from "../schema";
import type { UserSyncDatabase } from "../database";
import { runHasLiveLease } from "./lease";
import { countsOf, type ReconcileCounts } from "./report";

export type LastReconcileRun = {
  runId: string;
  finishedAt: Date;
  dryRun: boolean;
  mode: ReconcileMode;
  counts: ReconcileCounts;
};

/** The last run that finished successfully (dry or applied), for the health view. */
export async function lastReconcileRun(db: UserSyncDatabase, tables: UserSyncTables = defaultUserSyncTables): Promise<LastReconcileRun | null> {
  const runs = tables.userSyncReconcileRuns;
  const [row] = await db.select().from(runs).where(eq(runs.status, "succeeded")).orderBy(desc(runs.finishedAt)).limit(1);
  if (!row?.finishedAt) return null;
  return { runId: row.id, finishedAt: row.finishedAt, dryRun: row.dryRun, mode: row.mode, counts: countsOf(row) };
}

/**
 * One run as an operator sees it: its row, and `interrupted` when it is still `running` but no
 * live lease works on it (its process stopped, froze past its lease or lost the database): the
 * next full apply run resumes it.
 */
export type ReconcileRunView = ReconcileRunRow & { interrupted: boolean };

/** The run with this id, else the one started last (any status, any source); null when there is none. */
export async function readReconcileRun(
  db: UserSyncDatabase,
  options: { tables?: UserSyncTables; runId?: string } = {},
): Promise<ReconcileRunView | null> {
  const tables = options.tables ?? defaultUserSyncTables;
  const runs = tables.userSyncReconcileRuns;
  const [row] = await db
    .select({
      run: runs,
      interrupted: sql<boolean>`${runs.status} = 'running' and not ${runHasLiveLease(tables.userSyncReconcileLease, sql`${runs.id}`)}`,
    })
    .from(runs)
    .where(options.runId ? eq(runs.id, options.runId) : undefined)
    .orderBy(desc(runs.startedAt))
    .limit(1);
  return row ? { ...row.run, interrupted: row.interrupted === true || (row.interrupted as unknown) === "t" } : null;
}
