/**
 * One attempt at a run, holding the lease: the run row it started or resumed, every statement on
 * that row fenced by the lease (a lost lease stops the attempt), the batches it commits, its
 * progress and its report. The walk (walk.ts) and the deletion check (confirm-deletions.ts) drive it.
 */
import { randomUUID } from "node:crypto";

import { and, desc, eq, inArray, lt, sql, type SQL } from "drizzle-orm";

import { rowsOf, type UserSyncDatabase } from "../database";
import { guardedEmitter } from "../events";
import { syncedTableOf, type ReconcileRunRow, type UserSyncTables } from "../schema";
import type { ReconcileClerk } from "./clerk-calls";
import { ReconcileRefusedError, type ReconcileRefusalCode } from "./errors";
import { expectedInstance, instanceRefusal } from "./instance-proof";
import type { ReconcileLease } from "./lease";
import { commitReconcilePage } from "./page-write";
import type { ReconcileCheckpoint, ReconcileRunState, ReconcileTables } from "./run-row";
import { clearSeenSet } from "./seen-set";
import { countsOf, type ReconcileProgress, type ReconcileReport } from "./report";
import type { ReconcileOptions } from "./options";
import type { DatabaseTimer } from "./timer";
import type { ParsedUsers } from "./users";

const seenClearBatchSize = 10_000;
/** `max_deletions` of a forced run: every confirmed deletion allowed. */
const forcedAllowance = 2_147_483_647;

export class ReconcileAttempt {
  readonly db: UserSyncDatabase;
  readonly now: () => number;
  readonly startedAtMs: number;
  readonly dryRun: boolean;
  readonly mode: NonNullable<ReconcileOptions["mode"]>;
  readonly maxChanges: number;
  readonly batchTables: ReconcileTables;
  readonly emit: ReturnType<typeof guardedEmitter>;
  run!: ReconcileRunRow;
  resumed = false;
  changesStored = 0;
  private requestsCommitted = 0;

  constructor(
    readonly options: ReconcileOptions,
    readonly tables: UserSyncTables,
    readonly lease: ReconcileLease,
    readonly clerk: ReconcileClerk,
    readonly timer: DatabaseTimer,
  ) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    this.startedAtMs = this.now();
    this.dryRun = options.dryRun ?? true;
    this.mode = options.mode ?? "full";
    this.maxChanges = options.maxChanges ?? 1000;
    this.batchTables = { users: syncedTableOf(options.users), seen: tables.userSyncReconcileSeen, runs: tables.userSyncReconcileRuns };
    this.emit = guardedEmitter(options.onEvent);
  }

  readonly timed = <T>(work: () => Promise<T>): Promise<T> => this.timer.timed(work);

  private column(key: keyof ReconcileRunRow) {
    return sql.identifier(this.tables.userSyncReconcileRuns[key].name);
  }

  /** One fenced statement on the run row (`set` as SQL assignments); it renews the lease. */
  async updateRun(runId: string, set: SQL, attach = false) {
    const r = (key: keyof ReconcileRunRow) => this.column(key);
    const runsTable = this.tables.userSyncReconcileRuns;
    const result = await this.timed(() =>
      this.db.execute(sql`
        with ${this.lease.renewCte(attach ? sql`${runId}::text` : undefined)},
        updated as (update ${runsTable} set ${set}, ${r("updatedAt")} = now() where ${r("id")} = ${runId} and ${this.lease.held} returning 1)
        select (select count(*) from lease_held)::int as held`),
    );
    if (!rowsOf<{ held: number }>(result)[0]?.held) this.lease.markLost();
  }

  /** Clears a run's seen ids, a batch per statement. */
  clearSeen(runId: string) {
    return clearSeenSet(this.db, this.tables.userSyncReconcileSeen, { runId, lease: this.lease, batch: seenClearBatchSize, timed: this.timed });
  }

  /** Resumes the unfinished full apply run (a full apply attempt only), else starts a run; abandons what is not resumed. */
  async startOrResume(): Promise<void> {
    const { options, db, timed, now } = this;
    const runsTable = this.tables.userSyncReconcileRuns;
    const retentionMs = options.retentionMs ?? 30 * 24 * 3600_000;
    await timed(() => db.delete(runsTable).where(and(lt(runsTable.startedAt, new Date(now() - retentionMs)), sql`${runsTable.status} <> 'running'`)));
    const unfinished = await timed(() =>
      db.select().from(runsTable).where(inArray(runsTable.status, ["running", "failed"])).orderBy(desc(runsTable.startedAt)),
    );
    const { resumable, abandon } = this.sortUnfinished(unfinished);
    for (const candidate of abandon) {
      await this.updateRun(candidate.id, sql`${this.column("status")} = 'abandoned', ${this.column("finishedAt")} = now()`);
      await this.clearSeen(candidate.id);
    }
    const allowance = options.force ? forcedAllowance : (options.allowDeletionsUpTo ?? null);
    const id = resumable ? await this.resume(resumable, allowance) : await this.start(allowance);
    const [row] = await timed(() => db.select().from(runsTable).where(eq(runsTable.id, id)));
    this.run = row!;
    this.resumed = this.run.attempts > 1;
    this.changesStored = this.run.changes.length;
    this.requestsCommitted = this.clerk.requests;
  }

  private sortUnfinished(unfinished: ReconcileRunRow[]) {
    const resumeAfter = new Date(this.now() - (this.options.resumeWithinMs ?? 24 * 3600_000));
    let resumable: ReconcileRunRow | undefined;
    const abandon: ReconcileRunRow[] = [];
    for (const candidate of unfinished) {
      const expired = candidate.updatedAt <= resumeAfter;
      // Only a full apply run is resumed, by the next full apply run (an incremental run is
      // short and starts again); every other unfinished run is abandoned. A dry run or an
      // incremental run leaves a full apply run's checkpoint alone until it expires.
      const sameKind = !this.dryRun && this.mode === "full" && !candidate.dryRun && candidate.mode === "full";
      if (sameKind && !expired && !resumable) {
        resumable = candidate;
        continue;
      }
      const keep = !candidate.dryRun && candidate.mode === "full" && !expired && !sameKind;
      if (!keep) abandon.push(candidate);
    }
    return { resumable, abandon };
  }

  private async resume(resumable: ReconcileRunRow, allowance: number | null): Promise<string> {
    const r = (key: keyof ReconcileRunRow) => this.column(key);
    await this.updateRun(
      resumable.id,
      sql`${r("status")} = 'running', ${r("attempts")} = ${r("attempts")} + 1, ${r("errorCode")} = null, ${r("finishedAt")} = null,
        ${r("maxDeletions")} = ${allowance}::int`,
      true,
    );
    return resumable.id;
  }

  private async start(allowance: number | null): Promise<string> {
    const { options, db, timed, lease, mode, dryRun } = this;
    const runsTable = this.tables.userSyncReconcileRuns;
    const r = (key: keyof ReconcileRunRow) => this.column(key);
    let stopAtMs: number | null = null;
    if (mode === "incremental") {
      const [previous] = await timed(() =>
        db
          .select({ highWaterMarkMs: runsTable.highWaterMarkMs })
          .from(runsTable)
          .where(and(eq(runsTable.status, "succeeded"), eq(runsTable.dryRun, false)))
          .orderBy(desc(runsTable.finishedAt))
          .limit(1),
      );
      if (previous) stopAtMs = previous.highWaterMarkMs - (options.incrementalOverlapMs ?? 5 * 60_000);
    }
    const id = randomUUID();
    const inserted = await timed(() =>
      db.execute(sql`
        with ${lease.renewCte(sql`${id}::text`)},
        created as (
          insert into ${runsTable} (${r("id")}, ${r("mode")}, ${r("dryRun")}, ${r("status")}, ${r("stopAtMs")}, ${r("highWaterMarkMs")}, ${r("maxDeletions")})
          select ${id}, ${mode}, ${dryRun}, 'running', ${stopAtMs}::bigint, ${this.startedAtMs}::bigint, ${allowance}::int
          where ${lease.held}
          returning 1
        )
        select (select count(*) from created)::int as created`),
    );
    if (!rowsOf<{ created: number }>(inserted)[0]?.created) lease.markLost();
    return id;
  }

  apply(state: ReconcileRunState) {
    this.run = { ...this.run, ...state };
  }

  progress(phase: ReconcileProgress["phase"]) {
    const { run } = this;
    this.options.onProgress?.({
      runId: run.id,
      phase,
      walked: run.walked,
      clerkTotal: run.clerkTotal,
      liveRows: run.liveRows,
      counts: countsOf(run),
      wouldDelete: run.wouldDelete,
      unconfirmed: run.unconfirmed,
      clerkRequests: run.clerkRequests + (this.clerk.requests - this.requestsCommitted),
    });
  }

  /** Requests not yet added to the run row (a read-ahead may add more while a batch commits). */
  takeRequests() {
    const requests = this.clerk.requests - this.requestsCommitted;
    this.requestsCommitted = this.clerk.requests;
    return requests;
  }

  async commitBatch(batch: { parsed: ParsedUsers; goneIds?: string[]; unconfirmedIds?: string[]; checkpoint: ReconcileCheckpoint }) {
    this.lease.check();
    const started = performance.now();
    const result = await this.timed(() =>
      commitReconcilePage(this.db, this.batchTables, {
        runId: this.run.id,
        lease: this.lease,
        apply: !this.dryRun,
        snapshots: batch.parsed.snapshots,
        walkedIds: batch.parsed.walkedIds,
        goneIds: batch.goneIds,
        unconfirmedIds: batch.unconfirmedIds,
        room: Math.max(0, this.maxChanges - this.changesStored),
        malformed: batch.parsed.malformed,
        clerkRequests: this.takeRequests(),
        checkpoint: batch.checkpoint,
      }),
    );
    const walkedBefore = this.run.walked;
    this.apply(result.run);
    this.changesStored += result.listed;
    if (!this.dryRun) {
      const durationMs = performance.now() - started;
      for (const { outcome } of result.outcomes) {
        if (outcome !== "planned") this.emit({ source: "reconcile", outcome, clerkFetched: true, durationMs });
      }
    }
    return { fresh: this.run.walked - walkedBefore };
  }

  report(status: ReconcileReport["status"]): ReconcileReport {
    const { run, timer } = this;
    return {
      runId: run.id,
      dryRun: run.dryRun,
      mode: run.mode,
      status,
      counts: countsOf(run),
      changes: run.changes,
      truncated: run.truncated,
      wouldDelete: run.wouldDelete,
      deletionLimit: run.deletionLimit,
      unconfirmed: run.unconfirmed,
      liveRows: run.liveRows,
      instanceKeyId: run.instanceKeyId,
      clerkRequests: run.clerkRequests,
      durationMs: Math.round(this.now() - this.startedAtMs),
      malformed: run.malformed,
      resumed: this.resumed,
      timings: {
        databaseMs: Math.round(timer.totals.databaseMs),
        clerkMs: Math.round(this.clerk.waitedMs),
        longestDatabaseCallMs: Math.round(timer.totals.longestMs),
      },
    };
  }

  /** Ends the run with `status`; the seen set is cleared first (a batch per statement). */
  async finish(status: "succeeded" | "refused", errorCode: string | null) {
    const r = (key: keyof ReconcileRunRow) => this.column(key);
    const runsTable = this.tables.userSyncReconcileRuns;
    await this.clearSeen(this.run.id);
    const requests = this.takeRequests();
    await this.updateRun(
      this.run.id,
      sql`${r("status")} = ${status}, ${r("phase")} = 'done', ${r("errorCode")} = ${errorCode}, ${r("clerkRequests")} = ${r("clerkRequests")} + ${requests}::int, ${r("finishedAt")} = now()`,
    );
    const [final] = await this.timed(() =>
      this.db.select({ changes: runsTable.changes, truncated: runsTable.truncated }).from(runsTable).where(eq(runsTable.id, this.run.id)),
    );
    this.run = { ...this.run, status, phase: "done", errorCode, clerkRequests: this.run.clerkRequests + requests, ...final };
  }

  async refuse(code: ReconcileRefusalCode, message: string): Promise<never> {
    await this.finish("refused", code);
    throw new ReconcileRefusedError(code, message, this.report("refused"));
  }

  /** Records a failed attempt: a full apply run keeps its checkpoint (`failed`), any other is abandoned. */
  async fail(errorCode: string) {
    const r = (key: keyof ReconcileRunRow) => this.column(key);
    // Dry runs and incremental runs are not resumed: nothing is lost by abandoning them.
    const resumable = !this.run.dryRun && this.run.mode === "full";
    await this.updateRun(
      this.run.id,
      sql`${r("status")} = ${resumable ? "failed" : "abandoned"}, ${r("errorCode")} = ${errorCode},
        ${r("clerkRequests")} = ${r("clerkRequests")} + ${this.takeRequests()}::int, ${r("finishedAt")} = now()`,
    );
    if (!resumable) await this.clearSeen(this.run.id);
  }

  /** Proof of instance, fresh each run, before anything is written; refused as a whole without it. */
  async proveInstance() {
    const expected = await this.timed(() => expectedInstance(this.db, this.tables.userSyncClerkSessionKeys, this.options.instanceId));
    const keyIds = expected ? await this.clerk.jwksKeyIds() : [];
    const refusal = instanceRefusal(expected, keyIds);
    if (refusal) return this.refuse(refusal.code, refusal.message);
    await this.updateRun(this.run.id, sql`${this.column("instanceKeyId")} = ${expected!.keyId}`);
    this.run = { ...this.run, instanceKeyId: expected!.keyId };
  }
}
