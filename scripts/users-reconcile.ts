/**
 * `npm run users:reconcile -- --dry-run | --apply [--force] [--mode full|incremental] [--json]`
 *
 * Reconciles the users mirror with Clerk from a terminal or a job runner: the host's own
 * `userSync.reconcile` (what the admin API calls), with the app's database, Clerk key and the
 * Clerk budget every app instance shares (`.env*` files are loaded as Next loads them). Also
 * the emergency re-sync and first backfill.
 *
 * Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise), the
 * summary table (or the JSON report with `--json`) to stdout.
 * Exit codes: 0 done, 1 failed (the checkpoint is kept: run it again to resume), 2 bad
 * arguments, 3 refused because another run holds the lease, 4 refused because the Backend API
 * is not proven to be the app's Clerk instance (nothing written), 5 mass deletion refused
 * (creates and updates applied, no tombstone: `--force` applies them), 6 incremental run past
 * its depth (what it read was applied: run `--mode full`), 7 refused because another process has
 * the embedded PGlite database open.
 *
 * On the embedded database (no DATABASE_URL) the CLI never opens a folder another process holds
 * (src/server/db/embedded-lock.ts): while `npm run demo` runs, it reconciles through the demo's
 * admin API with the URL and key the demo wrote into the lock (so it needs none of the emulator's
 * env); while anything else holds it, it refuses (exit 7).
 */
import { parseArgs } from "node:util";

import nextEnv from "@next/env";
import { SingleBar } from "cli-progress";
import Table from "cli-table3";

import type { ReconcileProgress, ReconcileRefusalCode, ReconcileReport } from "clerk-user-sync/server";

import { EmbeddedDatabaseInUseError, readEmbeddedLock, type EmbeddedLockHolder } from "~/server/db/embedded-lock";

const usage = "Usage: npm run users:reconcile -- --dry-run | --apply [--force] [--mode full|incremental] [--json]";

const exitCodes = { ok: 0, failed: 1, usage: 2, locked: 3, instance: 4, massDeletion: 5, incrementalTooDeep: 6, databaseInUse: 7 } as const;

const refusalExitCodes: Record<ReconcileRefusalCode, number> = {
  CLERK_INSTANCE_MISMATCH: exitCodes.instance,
  CLERK_INSTANCE_UNPROVEN: exitCodes.instance,
  MASS_DELETION_REFUSED: exitCodes.massDeletion,
  INCREMENTAL_TOO_DEEP: exitCodes.incrementalTooDeep,
};

type CliOptions = { dryRun: boolean; mode: "full" | "incremental"; force: boolean; json: boolean };

function parseCommandLine(argv: string[]): CliOptions | { error: string } | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "dry-run": { type: "boolean" },
        apply: { type: "boolean" },
        mode: { type: "string" },
        force: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { error: error instanceof Error ? error.message : "invalid arguments" };
  }
  if (values.help) return "help";
  if (!!values["dry-run"] === !!values.apply) return { error: "choose exactly one of --dry-run or --apply" };
  const mode = values.mode ?? "full";
  if (mode !== "full" && mode !== "incremental") return { error: "--mode must be full or incremental" };
  if (values.force && !values.apply) return { error: "--force applies tombstones: it needs --apply" };
  return { dryRun: !!values["dry-run"], mode, force: !!values.force, json: !!values.json };
}

const phaseLabels: Record<ReconcileProgress["phase"], string> = { walk: "walking   ", confirm: "confirming", tombstone: "tombstones" };

/** A bar on a terminal, a plain line every few seconds elsewhere (CI logs, job runners). */
function createProgressReporter(stream: NodeJS.WriteStream) {
  const startedAtMs = Date.now();
  let walkedAtStart: number | null = null;
  let lastLineAtMs = 0;
  const rate = (walked: number) => {
    const seconds = (Date.now() - startedAtMs) / 1000;
    return seconds > 0 ? Math.round((walked - (walkedAtStart ?? 0)) / seconds) : 0;
  };
  if (stream.isTTY) {
    const bar = new SingleBar({
      stream,
      format: "{phase} [{bar}] {percentage}% | {value}/{total} users | {rate} users/s | ETA {eta_formatted} | Clerk requests {requests}",
      etaBuffer: 20,
      hideCursor: true,
      clearOnComplete: false,
    });
    let started = false;
    return {
      update(progress: ReconcileProgress) {
        walkedAtStart ??= progress.walked;
        const total = Math.max(progress.clerkTotal ?? 0, progress.walked, 1);
        const payload = { phase: phaseLabels[progress.phase], rate: rate(progress.walked), requests: progress.clerkRequests };
        if (!started) {
          bar.start(total, progress.walked, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(progress.walked, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  return {
    update(progress: ReconcileProgress) {
      walkedAtStart ??= progress.walked;
      if (Date.now() - lastLineAtMs < 5_000) return;
      lastLineAtMs = Date.now();
      const total = progress.clerkTotal ?? "?";
      const users = rate(progress.walked);
      const remaining = typeof total === "number" ? Math.max(0, total - progress.walked) : null;
      const eta = remaining !== null && users > 0 ? `${Math.ceil(remaining / users)}s` : "?";
      const confirm =
        progress.phase === "walk" ? "" : `, ${progress.liveRows} mirror rows checked, ${progress.wouldDelete} confirmed gone, ${progress.unconfirmed} unconfirmed`;
      stream.write(
        `users:reconcile ${progress.phase}: ${progress.walked}/${total} users, ${users} users/s, ETA ${eta}${confirm}, Clerk requests ${progress.clerkRequests}\n`,
      );
    },
    stop() {
      return;
    },
  };
}

function summaryTable(report: ReconcileReport) {
  const table = new Table({
    head: ["", report.dryRun ? "found (dry run)" : "repaired"],
    // No colour codes in files and job logs.
    style: process.stdout.isTTY ? {} : { head: [], border: [] },
  });
  table.push(
    ["missing (created)", report.counts.missing],
    ["stale (updated)", report.counts.stale],
    ["deleted (tombstoned)", report.counts.deleted],
    ["unconfirmed (left alone)", report.unconfirmed],
    ["confirmed gone / deletion limit", `${report.wouldDelete} / ${report.deletionLimit ?? "-"}`],
    ["unchanged", report.counts.unchanged],
    ["malformed in Clerk (skipped)", report.malformed],
    ["Clerk requests", report.clerkRequests],
    ["duration", `${(report.durationMs / 1000).toFixed(1)} s`],
    ["run", `${report.runId} (${report.mode}${report.resumed ? ", resumed" : ""}${report.status === "refused" ? ", refused" : ""})`],
  );
  return table.toString();
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed === "help") {
    process.stdout.write(`${usage}\n`);
    return exitCodes.ok;
  }
  if ("error" in parsed) {
    process.stderr.write(`users:reconcile: ${parsed.error}\n${usage}\n`);
    return exitCodes.usage;
  }
  // As Next does for the app: .env, .env.local, .env.production… (quietly: no file names in job logs).
  nextEnv.loadEnvConfig(process.cwd(), process.env.NODE_ENV === "development", { info: () => undefined, error: () => undefined });
  if (!process.env.DATABASE_URL) {
    // Before the app's modules load: going through the demo needs none of its env.
    const dataDir = process.env.PGLITE_DATA_DIR ?? ".data/pglite";
    const holder = readEmbeddedLock(dataDir);
    if (holder?.appUrl && holder.adminApiKey) return reconcileThroughApp(parsed, holder);
    if (holder) return refuseInUse(new EmbeddedDatabaseInUseError(dataDir, holder));
  }
  // After the env files: these modules read and validate the environment when they load.
  const [{ userSync }, reconcile] = await Promise.all([import("~/server/user-sync"), import("clerk-user-sync/server")]);
  const { databaseErrorCode } = reconcile;

  const controller = new AbortController();
  const interrupt = () => {
    if (controller.signal.aborted) process.exit(exitCodes.failed);
    process.stderr.write("\nusers:reconcile: stopping after the current page (Ctrl-C again to quit now)…\n");
    controller.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  const progress = createProgressReporter(process.stderr);
  try {
    // The app's own instance: its database, the Clerk budget every instance shares, telemetry.
    const report = await userSync.reconcile({
      dryRun: parsed.dryRun,
      mode: parsed.mode,
      force: parsed.force,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    process.stdout.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : `${summaryTable(report)}\n`);
    // The run's write counts, into the persisted telemetry the health view reads.
    await userSync.telemetry?.close().catch(() => undefined);
    return exitCodes.ok;
  } catch (error) {
    progress.stop();
    const inUse = embeddedInUse(error);
    if (inUse) return refuseInUse(inUse);
    if (error instanceof reconcile.ReconcileLockedError) {
      process.stderr.write(`users:reconcile: refused: ${error.message} (on this or another app instance). Try again when it has finished.\n`);
      return exitCodes.locked;
    }
    await userSync.telemetry?.close().catch(() => undefined);
    if (error instanceof reconcile.ReconcileRefusedError) {
      if (error.code === "MASS_DELETION_REFUSED" || error.code === "INCREMENTAL_TOO_DEEP") {
        process.stdout.write(parsed.json ? `${JSON.stringify({ error: error.code, ...error.report }, null, 2)}\n` : `${summaryTable(error.report)}\n`);
      }
      process.stderr.write(`users:reconcile: refused (${error.code}): ${error.message}\n`);
      return refusalExitCodes[error.code];
    }
    // Names and codes only: a driver's message can quote row values (emails, names).
    const reason =
      error instanceof reconcile.ReconcileClerkError || error instanceof reconcile.ReconcileLeaseLostError
        ? error.message
        : controller.signal.aborted
          ? "interrupted"
          : `${error instanceof Error ? error.name : "error"}${databaseErrorCode(error) ? ` (${databaseErrorCode(error)})` : ""}`;
    process.stderr.write(`users:reconcile: failed: ${reason}. The checkpoint is kept: run the same command again to resume.\n`);
    return exitCodes.failed;
  }
}

/** The embedded database's lock refusal, also when the user sync wrapped it as a cause. */
function embeddedInUse(error: unknown): EmbeddedDatabaseInUseError | null {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof EmbeddedDatabaseInUseError) return current;
  }
  return null;
}

function refuseInUse(error: EmbeddedDatabaseInUseError): number {
  process.stderr.write(
    `users:reconcile: refused: ${error.message}, or reconcile from that app (its console, or POST /api/admin/user-sync/reconcile). Nothing was opened.\n`,
  );
  return exitCodes.databaseInUse;
}

/**
 * The run, by the running demo: `POST /api/admin/user-sync/reconcile` with the demo's key. The
 * same report and exit codes; no progress (the answer comes when the run has finished).
 */
async function reconcileThroughApp(options: CliOptions, holder: EmbeddedLockHolder): Promise<number> {
  const query = new URLSearchParams({ dry_run: String(options.dryRun), mode: options.mode, ...(options.force ? { force: "true" } : {}) });
  const endpoint = `${holder.appUrl}/api/admin/user-sync/reconcile`;
  process.stderr.write(`users:reconcile: the demo (pid ${holder.pid}) has the embedded database open: reconciling through its admin API (${endpoint})…\n`);
  const controller = new AbortController();
  process.on("SIGINT", () => controller.abort());
  process.on("SIGTERM", () => controller.abort());
  let response: Response;
  try {
    response = await fetch(`${endpoint}?${query}`, { method: "POST", headers: { authorization: `Bearer ${holder.adminApiKey}` }, signal: controller.signal });
  } catch {
    process.stderr.write(
      `users:reconcile: failed: ${controller.signal.aborted ? "interrupted (the demo may still finish the run)" : `the demo did not answer at ${holder.appUrl}`}.\n`,
    );
    return exitCodes.failed;
  }
  const body = (await response.json().catch(() => ({}))) as ReconcileReport & { error?: string; message?: string };
  if (response.ok) {
    process.stdout.write(options.json ? `${JSON.stringify(body, null, 2)}\n` : `${summaryTable(body)}\n`);
    return exitCodes.ok;
  }
  const code = body.error?.toUpperCase();
  if (response.status === 409 && body.error === "reconcile_in_progress") {
    process.stderr.write(`users:reconcile: refused: ${body.message ?? "another run holds the lock"} (in the demo). Try again when it has finished.\n`);
    return exitCodes.locked;
  }
  if (code && code in refusalExitCodes) {
    const refusal = code as ReconcileRefusalCode;
    if (refusal === "MASS_DELETION_REFUSED" || refusal === "INCREMENTAL_TOO_DEEP") {
      const report: ReconcileReport & { error?: string; message?: string } = { ...body };
      delete report.error;
      delete report.message;
      process.stdout.write(options.json ? `${JSON.stringify({ error: refusal, ...report }, null, 2)}\n` : `${summaryTable(report)}\n`);
    }
    process.stderr.write(`users:reconcile: refused (${refusal}): ${body.message ?? ""}\n`);
    return refusalExitCodes[refusal];
  }
  process.stderr.write(`users:reconcile: failed: the demo answered ${response.status}${body.error ? ` ${body.error}` : ""}.\n`);
  return exitCodes.failed;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  () => process.exit(exitCodes.failed),
);
