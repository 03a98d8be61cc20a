"use client";

import { useEffect, useRef, useState } from "react";

import type { ConsoleReconcileRun } from "~/server/console";
import { api } from "~/trpc/react";

const kinds = [
  { kind: "missing", label: "Missing", hint: "in Clerk, no row here (every field)" },
  { kind: "stale", label: "Stale", hint: "the row differs from Clerk" },
  { kind: "deleted", label: "Deleted", hint: "gone from Clerk (Clerk confirmed it), still live here" },
] as const;

const statusLabels: Record<ConsoleReconcileRun["status"], string> = {
  running: "Running",
  succeeded: "Finished",
  failed: "Failed (an apply run resumes from its checkpoint next time)",
  abandoned: "Abandoned",
  refused: "Refused",
};

/** What each refusal means, in the words an admin acts on. */
const refusalText: Record<string, (run: ConsoleReconcileRun) => string> = {
  CLERK_INSTANCE_MISMATCH: () =>
    "The Backend API belongs to another Clerk instance (CLERK_SECRET_KEY or CLERK_API_URL): its keys lack this app's instance. Nothing was written.",
  CLERK_INSTANCE_UNPROVEN: () =>
    "The app does not know its Clerk instance yet (set CLERK_INSTANCE_ID, or let a user sign in first), so the Backend API could not be proven. Nothing was written.",
  MASS_DELETION_REFUSED: (run) =>
    `It would tombstone ${run.wouldDelete} users, more than the limit of ${run.deletionLimit ?? "?"}: creates and updates were applied, no tombstone was written.`,
  INCREMENTAL_TOO_DEEP: () => "More users changed than an incremental run reads: what it read was applied. Run a full reconciliation.",
};

function utc(iso: string) {
  return `${iso.slice(0, 19).replace("T", " ")} UTC`;
}

/** 0–100 for the bar; null while the size of the walk is not known yet. */
function percentDone(run: ConsoleReconcileRun): number | null {
  if (run.status !== "running") return 100;
  if (run.interrupted) return run.clerkTotal ? Math.min(99, Math.floor((run.walked / run.clerkTotal) * 100)) : 0;
  if (run.phase === "done") return 100;
  if (run.clerkTotal === null) return null;
  if (run.phase === "confirm" || run.phase === "tombstone") return 99;
  return run.clerkTotal === 0 ? 99 : Math.min(99, Math.floor((run.walked / run.clerkTotal) * 100));
}

function progressText(run: ConsoleReconcileRun) {
  if (run.status !== "running") return `${run.walked} users walked, ${run.clerkRequests} Clerk requests`;
  if (run.phase === "confirm") return `Walked ${run.walked} users; checking ${run.liveRows} mirror rows for deletions with Clerk`;
  if (run.phase === "tombstone") return `Walked ${run.walked} users; writing ${run.wouldDelete} tombstones`;
  if (run.clerkTotal === null) return "Reading Clerk's first page";
  return `Walked ${run.walked} of ${run.clerkTotal} users`;
}

function Progress({ run }: { run: ConsoleReconcileRun }) {
  const percent = percentDone(run);
  const text = progressText(run);
  return (
    <div className="mt-4">
      <div
        role="progressbar"
        aria-label="Reconciliation progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-valuetext={text}
        data-testid="reconcile-progress"
        className="h-2.5 w-full overflow-hidden rounded-full bg-slate-200"
      >
        <div
          className={`h-full rounded-full transition-[width] ${percent === null ? "animate-pulse bg-indigo-300" : run.interrupted || run.status === "refused" ? "bg-amber-500" : run.status === "running" ? "bg-indigo-600" : run.status === "succeeded" ? "bg-emerald-600" : "bg-red-600"}`}
          style={{ width: `${percent ?? 100}%` }}
        />
      </div>
      <p className="mt-1.5 text-sm text-slate-600">{text}</p>
    </div>
  );
}

function Diff({ run }: { run: ConsoleReconcileRun }) {
  const total = run.counts.missing + run.counts.stale + run.counts.deleted;
  return (
    <div className="mt-5" data-testid="reconcile-diff">
      <h3 className="text-base font-semibold">
        {run.status === "running" ? "Found so far" : run.dryRun ? "What differs" : "What this run repaired"}: {total === 0 ? "nothing" : `${total} users`}
        <span className="ml-2 text-sm font-normal text-slate-600">({run.counts.unchanged} already in step)</span>
      </h3>
      {run.unconfirmed > 0 && (
        <p className="mt-1 text-sm text-amber-900" data-testid="reconcile-unconfirmed">
          {run.unconfirmed} {run.unconfirmed === 1 ? "user" : "users"} not in Clerk&rsquo;s list whose deletion Clerk did not confirm: left alone, checked again by the next run.
        </p>
      )}
      <div className="mt-3 grid gap-4 lg:grid-cols-3">
        {kinds.map(({ kind, label, hint }) => (
          <section key={kind} className="min-w-0 rounded-xl border border-slate-200 p-4" data-testid={`reconcile-${kind}`} aria-label={`${label} users`}>
            <h4 className="flex items-baseline justify-between gap-2 font-medium">
              {label}
              <span className="text-2xl font-semibold tabular-nums" data-testid={`reconcile-${kind}-count`}>
                {run.counts[kind]}
              </span>
            </h4>
            <p className="text-xs text-slate-500">{hint}</p>
            {run.changes[kind].length > 0 && (
              <ul className="mt-3 max-h-64 space-y-1.5 overflow-y-auto text-sm">
                {run.changes[kind].map((change) => (
                  <li key={change.userId} data-user-id={change.userId} className="rounded-md bg-slate-50 px-2 py-1">
                    <code className="block truncate font-mono text-xs text-slate-800" title={change.userId}>
                      {change.userId}
                    </code>
                    {kind !== "missing" && <span className="text-xs text-slate-600">{change.fields.join(", ")}</span>}
                  </li>
                ))}
              </ul>
            )}
          </section>
        ))}
      </div>
      {run.truncated && <p className="mt-2 text-xs text-slate-600">The run found more changes than are listed here (up to 100 of each kind are shown).</p>}
    </div>
  );
}

/** A refused mass deletion: the admin may apply exactly that many tombstones, after a second, explicit click. */
function ConfirmDeletions({ run, disabled, onConfirm }: { run: ConsoleReconcileRun; disabled: boolean; onConfirm: (count: number) => void }) {
  const [confirming, setConfirming] = useState(false);
  if (!confirming) {
    return (
      <button type="button" className="btn mt-3" disabled={disabled} onClick={() => setConfirming(true)}>
        Review and apply the {run.wouldDelete} deletions
      </button>
    );
  }
  return (
    <div className="mt-3 rounded-lg border border-red-300 bg-red-50 p-3 text-sm text-red-950" data-testid="reconcile-confirm-deletions">
      <p>
        A new full run will tombstone up to <strong>{run.wouldDelete}</strong> users Clerk confirms are gone: their personal data is cleared in the mirror.
        Check in Clerk that these users were really deleted first.
      </p>
      <div className="mt-2 flex gap-2">
        <button type="button" className="btn btn-danger" disabled={disabled} onClick={() => onConfirm(run.wouldDelete)}>
          Tombstone up to {run.wouldDelete} users
        </button>
        <button type="button" className="btn" onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/**
 * The last reconciliation run (from the console, the CLI or the admin API) with its diff, and
 * buttons that start a dry run or an apply. A click shows the new run's state at once: "starting"
 * while the server takes the lease and creates the run's row, then that row (the mutation answers
 * it); a refusal (409) shows the run holding the lease, never the previous run beside it. The run
 * goes on in the server; this polls its row every second while it runs, so leaving the page and
 * coming back shows it still going.
 */
export function ReconcilePanel() {
  const utils = api.useUtils();
  const lastRun = api.admin.lastReconcileRun.useQuery(undefined, {
    refetchInterval: (query) => (query.state.data?.status === "running" && !query.state.data.interrupted ? 1_000 : 15_000),
  });
  const start = api.admin.startReconcile.useMutation({
    onSuccess: (started) => {
      if (started.run) utils.admin.lastReconcileRun.setData(undefined, started.run);
      void utils.admin.lastReconcileRun.invalidate();
    },
    onError: () => utils.admin.lastReconcileRun.invalidate(),
  });
  const run = lastRun.data;
  const running = run?.status === "running" && !run.interrupted;
  const conflict = start.error?.data?.code === "CONFLICT";
  // After a 409, the run read before the click is not the one holding the lease: not shown until the refetch lands.
  const staleAfterRefusal = conflict && lastRun.dataUpdatedAt <= start.submittedAt;


  // When a run ends (started here, by the CLI or the admin API), the health figures (Clerk's count,
  // live rows, discrepancy, last reconcile) and the users table change with it.
  const finishedKey = run?.finishedAt ? `${run.id}@${run.finishedAt}` : null;
  const previousFinishedKey = useRef(finishedKey);
  const previousStatus = useRef(run?.status);
  useEffect(() => {
    const ended = previousStatus.current === "running" && run?.status !== "running";
    const newlyFinished = finishedKey !== null && previousFinishedKey.current !== finishedKey && lastRun.isFetched;
    if (ended || newlyFinished) {
      void utils.admin.overview.invalidate();
      void utils.admin.users.invalidate();
    }
    previousStatus.current = run?.status;
    previousFinishedKey.current = finishedKey;
  }, [run?.status, finishedKey, lastRun.isFetched, utils]);

  // A refusal names a run in progress: shown while that run is (or may still be) running, not beside a finished one.
  const refusal = conflict && (staleAfterRefusal || running) ? start.error?.message : null;
  const busy = start.isPending || running;
  const begin = (request: { dryRun: boolean; allowDeletionsUpTo?: number }) => start.mutate({ mode: "full", ...request });
  return (
    <section className="card" aria-labelledby="reconcile-title" data-testid="reconcile-panel">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="max-w-xl">
          <h2 id="reconcile-title" className="text-lg font-semibold">
            Reconciliation with Clerk
          </h2>
          <p className="mt-1 text-sm text-slate-600">
            Walks Clerk’s user list and compares it with the mirror. A dry run only reports; an apply repairs missing and stale rows and
            tombstones users Clerk confirms are gone (a larger deletion than the guard allows waits for your confirmation). One run at a
            time, across every instance.
          </p>
        </div>
        <div className="flex gap-2">
          <button type="button" className="btn" disabled={busy} onClick={() => begin({ dryRun: true })}>
            Dry run
          </button>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => begin({ dryRun: false })}>
            Apply
          </button>
        </div>
      </div>
      {refusal && (
        <p role="alert" className="mt-4 rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950" data-testid="reconcile-refusal">
          Refused (409): {refusal}
        </p>
      )}
      {start.error && !conflict && (
        <p role="alert" className="mt-4 rounded-lg border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800" data-testid="reconcile-error">
          {start.error.message}
        </p>
      )}
      {lastRun.error && (
        <p role="alert" className="mt-4 text-sm text-red-800">
          The last run could not be read: {lastRun.error.message}
        </p>
      )}
      {start.isPending ? (
        <div className="mt-5 border-t border-slate-200 pt-4" data-testid="reconcile-run" data-status="starting" data-dry-run={start.variables.dryRun}>
          <p className="text-sm">
            <span className="font-medium">{start.variables.dryRun ? "Dry run" : "Apply"}</span> (full) ·{" "}
            <span data-testid="reconcile-status">Starting…</span>
          </p>
          <div role="progressbar" aria-label="Reconciliation progress" aria-valuetext="Starting" data-testid="reconcile-progress" className="mt-4 h-2.5 w-full animate-pulse rounded-full bg-indigo-200" />
        </div>
      ) : lastRun.isPending || staleAfterRefusal ? (
        <p className="mt-4 text-sm text-slate-600" data-testid="reconcile-loading">
          {staleAfterRefusal ? "Reading the run in progress…" : "Loading the last run…"}
        </p>
      ) : !run ? (
        <p className="mt-4 text-sm text-slate-600" data-testid="reconcile-none">
          No reconciliation has run yet.
        </p>
      ) : (
        <div
          className="mt-5 border-t border-slate-200 pt-4"
          data-testid="reconcile-run"
          data-run-id={run.id}
          data-status={run.interrupted ? "interrupted" : run.status}
          data-error-code={run.errorCode ?? undefined}
          data-dry-run={run.dryRun}
        >
          <p className="text-sm">
            <span className="font-medium">{run.dryRun ? "Dry run" : "Apply"}</span> ({run.mode}) ·{" "}
            <span data-testid="reconcile-status">
              {run.interrupted ? "Interrupted: the process running it stopped and its lease expired (an apply run resumes with the next Apply)" : statusLabels[run.status]}
            </span>
            {run.errorCode && ` · ${run.errorCode}`} · started {utc(run.startedAt)}
            {run.finishedAt && `, ended ${utc(run.finishedAt)}`}
          </p>
          {run.status === "refused" && run.errorCode && (
            <div role="alert" className="mt-3 rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950" data-testid="reconcile-refused">
              {(refusalText[run.errorCode] ?? (() => run.errorCode))(run)}
              {run.errorCode === "MASS_DELETION_REFUSED" && <ConfirmDeletions run={run} disabled={busy} onConfirm={(count) => begin({ dryRun: false, allowDeletionsUpTo: count })} />}
            </div>
          )}
          {run.dryRun && run.status === "succeeded" && run.deletionLimit !== null && run.wouldDelete > run.deletionLimit && (
            <p className="mt-3 text-sm text-amber-900" data-testid="reconcile-guard-warning">
              An apply would be refused: {run.wouldDelete} deletions, more than the limit of {run.deletionLimit}.
            </p>
          )}
          <Progress run={run} />
          <Diff run={run} />
        </div>
      )}
    </section>
  );
}
