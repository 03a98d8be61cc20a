/**
 * Reconciliation's single flight across app instances: a lease row in PostgreSQL, not a lock
 * held on a connection.
 *
 * - Taken, renewed and released by single statements on the database's clock: no open
 *   transaction and no session state, so it works on a pool of one connection, through a
 *   transaction pooler (PgBouncer, Supabase's, Neon's) and on drivers without interactive
 *   transactions (neon-http), and the run never holds one connection while it waits for another.
 * - The holder renews it every quarter of its duration while it lives (also while it waits for
 *   Clerk). A frozen or killed holder stops renewing: its lease expires `leaseSeconds` after its
 *   last renewal and the next run takes over (and resumes the run where its checkpoint is).
 * - Fencing: every write of a run renews the lease in the same statement (`fenced`), so a holder
 *   that wakes up after its lease was taken writes nothing and stops (`ReconcileLeaseLostError`).
 */
import { randomUUID } from "node:crypto";

import { sql, type SQL } from "drizzle-orm";

import type { UserSyncTables } from "../schema";
import { rowsOf, type UserSyncDatabase } from "../database";
import { ReconcileLeaseLostError, ReconcileLockedError } from "./errors";

/** The lease's one row. */
const leaseName = "reconcile";

/** How long a lease lasts after its last renewal unless the `leaseSeconds` option says otherwise. */
export const defaultLeaseSeconds = 60;

type LeaseTable = UserSyncTables["userSyncReconcileLease"];

export type ReconcileLease = {
  readonly holder: string;
  /**
   * A CTE named `lease_held` that renews this holder's lease (one row), and points it at `runId`
   * when given, or does nothing when the holder lost it; a statement puts it first in its WITH
   * list and conditions its writes on `held`. (One update of the lease row per statement:
   * PostgreSQL applies only one of two updates of a row in one statement.)
   */
  renewCte(runId?: SQL): SQL;
  /** `exists (select 1 from lease_held)`: true in a statement whose `renewCte` renewed the lease. */
  readonly held: SQL;
  /** True once a renewal found the lease gone or taken. */
  readonly lost: boolean;
  /** Throws `ReconcileLeaseLostError` when the lease is known lost. */
  check(): void;
  /** Marks the lease lost (a fenced write found it gone). */
  markLost(): never;
  /** Stops the heartbeat and gives the lease up (if this holder still holds it). */
  release(): Promise<void>;
};

function columns(table: LeaseTable) {
  const c = (key: keyof LeaseTable["_"]["columns"]) => sql.identifier(table[key].name);
  return c;
}

/**
 * Takes the lease for a new run attempt, or throws `ReconcileLockedError` (with the run the
 * holder works on) while another holder's lease has not expired. One statement.
 */
export async function takeLease(
  db: UserSyncDatabase,
  table: LeaseTable,
  options: { leaseSeconds?: number; onDatabaseCall?: <T>(work: () => Promise<T>) => Promise<T> } = {},
): Promise<ReconcileLease> {
  const c = columns(table);
  const leaseSeconds = options.leaseSeconds ?? defaultLeaseSeconds;
  const duration = sql`(${leaseSeconds}::double precision * interval '1 second')`;
  const holder = randomUUID();
  const timed = options.onDatabaseCall ?? (<T>(work: () => Promise<T>) => work());

  // `current` reads the row as it was before this statement: the run of a holder that keeps it.
  const [row] = rowsOf<{ taken: number; running_run_id: string | null }>(
    await timed(() =>
      db.execute(sql`
        with current as (select ${c("runId")} as run_id from ${table} where ${c("name")} = ${leaseName}),
        taken as (
          insert into ${table} as l (${c("name")}, ${c("holder")}, ${c("runId")}, ${c("acquiredAt")}, ${c("heartbeatAt")}, ${c("expiresAt")})
          values (${leaseName}, ${holder}, null, now(), now(), now() + ${duration})
          on conflict (${c("name")}) do update set
            ${c("holder")} = excluded.${c("holder")}, ${c("runId")} = null, ${c("acquiredAt")} = now(),
            ${c("heartbeatAt")} = now(), ${c("expiresAt")} = excluded.${c("expiresAt")}
          where l.${c("expiresAt")} <= now()
          returning 1
        )
        select (select count(*) from taken)::int as taken, (select run_id from current) as running_run_id`),
    ),
  );
  if (!row?.taken) throw new ReconcileLockedError(row?.running_run_id ?? null);

  let lost = false;
  const renewCte = (runId?: SQL) => sql`lease_held as (
    update ${table} set ${c("heartbeatAt")} = now(), ${c("expiresAt")} = now() + ${duration}${runId ? sql`, ${c("runId")} = ${runId}` : sql``}
    where ${c("name")} = ${leaseName} and ${c("holder")} = ${holder} and ${c("expiresAt")} > now()
    returning 1 as held
  )`;
  const markLost = (): never => {
    lost = true;
    throw new ReconcileLeaseLostError();
  };

  // Renewed a few times per duration, also while the run waits for Clerk or for the pool.
  let renewing: Promise<void> | null = null;
  const heartbeat = setInterval(
    () => {
      if (lost || renewing) return;
      renewing = db
        .execute(sql`with ${renewCte()} select count(*)::int as held from lease_held`)
        .then((result) => {
          if (!rowsOf<{ held: number }>(result)[0]?.held) lost = true;
        })
        // A failed renewal is tried again at the next beat; the lease may lapse meanwhile.
        .catch(() => undefined)
        .finally(() => {
          renewing = null;
        });
    },
    Math.max(250, (leaseSeconds * 1000) / 4),
  );
  heartbeat.unref?.();

  return {
    holder,
    renewCte,
    held: sql`exists (select 1 from lease_held)`,
    get lost() {
      return lost;
    },
    check() {
      if (lost) throw new ReconcileLeaseLostError();
    },
    markLost,
    async release() {
      clearInterval(heartbeat);
      await renewing;
      await db.execute(sql`delete from ${table} where ${c("name")} = ${leaseName} and ${c("holder")} = ${holder}`).catch(() => undefined);
    },
  };
}

/**
 * SQL that is true for a run some live lease works on. A `running` run without one belongs to
 * a process that stopped (killed, frozen past its lease, cut off): it is shown as interrupted.
 */
export function runHasLiveLease(table: LeaseTable, runId: SQL): SQL {
  const c = columns(table);
  return sql`exists (select 1 from ${table} where ${c("name")} = ${leaseName} and ${c("runId")} = ${runId} and ${c("expiresAt")} > now())`;
}

/** The lease's holder, run and expiry (for tests and operators). */
export async function readLease(db: UserSyncDatabase, table: LeaseTable) {
  const c = columns(table);
  const [row] = rowsOf<{ holder: string; run_id: string | null; live: boolean }>(
    await db.execute(sql`select ${c("holder")} as holder, ${c("runId")} as run_id, ${c("expiresAt")} > now() as live from ${table} where ${c("name")} = ${leaseName}`),
  );
  return row ? { holder: row.holder, runId: row.run_id, live: row.live } : null;
}
