/**
 * Starting a reconciliation from a request (the console's Dry run and Apply): the caller gets
 * the run's id as soon as its row exists; the run goes on after the response, kept alive by the
 * host's `schedule` (Next's `after`) where the platform would otherwise stop the function.
 */
import { scheduleInBackground, type BackgroundScheduler } from "../background";
import type { UserSyncLogEntry } from "../events";
import { ReconcileLockedError } from "./errors";
import type { ReconcileRequest } from "./options";
import type { ReconcileReport } from "./report";

export type ReconcileStarterOptions = {
  reconcile: (request: ReconcileRequest) => Promise<ReconcileReport>;
  schedule?: BackgroundScheduler;
  /** Hears a run that failed (its error code only); the run row records the failure too. */
  log: (entry: UserSyncLogEntry) => void;
};

/** The function behind `userSync.startReconcile`. */
export function createReconcileStarter(options: ReconcileStarterOptions) {
  return async function startReconcile(request: ReconcileRequest): Promise<{ runId: string }> {
    let started: (runId: string) => void = () => undefined;
    const runIdKnown = new Promise<string>((resolve) => (started = resolve));
    const run = options.reconcile({
      ...request,
      onProgress: (progress) => {
        started(progress.runId);
        request.onProgress?.(progress);
      },
    });
    const settled = run.then(
      () => undefined,
      (error: unknown) => {
        // Another run holds the lease: the caller's answer (409), not a failure of a run.
        if (error instanceof ReconcileLockedError) return;
        const code = (error as { code?: unknown } | null)?.code;
        options.log({ level: "warn", event: "reconcile_failed", code: typeof code === "string" ? code : error instanceof Error ? error.name : "unknown" });
      },
    );
    // Without a scheduler (or outside a request) the process outlives the run anyway.
    scheduleInBackground(options.schedule, () => settled);
    const runId = await Promise.race([runIdKnown, run.then((report) => report.runId)]);
    return { runId };
  };
}
