/**
 * The user sync's admin API: health and reconciliation for operators, cron jobs and monitors.
 *
 * - Authenticated by `Authorization: Bearer <key>` against the current key and, during a
 *   rotation, the previous one: SHA-256 digests of fixed length compared with
 *   `crypto.timingSafeEqual`, every configured key compared every time. The key is never logged.
 * - Anything else (no header, another scheme, an empty or wrong key, a session token, a key in
 *   the query string) is 401 with one generic body: no hint which part was wrong, never a 500.
 * - No key configured: 503 for every request, before anything else.
 */
import { createHash, timingSafeEqual } from "node:crypto";

import { classifyDatabaseError, isDatabaseError } from "../database";
import { UserSyncError } from "../errors";
import { problemLine, type HealthProblem, type HealthReport } from "./health-rules";
import type { ReconcileRefusalCode } from "../reconcile/errors";
import type { ReconcileRequest } from "../reconcile/options";
import type { ReconcileReport } from "../reconcile/report";

/** One line per admin request. Never carries the key, a header or a query value. */
export type AdminLogEntry = {
  level: "info" | "warn" | "error";
  endpoint: "health" | "reconcile";
  status: number;
  reason?: string;
};

export type UserSyncAdminOptions = {
  /** The admin key (`ADMIN_API_KEY`). Unset or empty: the admin API answers 503. */
  apiKey: string | undefined;
  /** The key being rotated out (`ADMIN_API_KEY_PREVIOUS`); accepted beside the current one. */
  previousApiKey?: string | undefined;
  health: { check(): Promise<HealthReport> };
  /** Runs one reconciliation with the host's database, Clerk client and budget. Unset: 503. */
  reconcile?: (request: ReconcileRequest) => Promise<ReconcileReport>;
  /** Recognizes "another run holds the lease" (default: an error named `ReconcileLockedError`). */
  isReconcileLocked?: (error: unknown) => boolean;
  /** Where the one line per request goes; the default writes JSON to the console. */
  log?: (entry: AdminLogEntry) => void;
};

const jsonHeaders = { "Cache-Control": "no-store" };

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** True only for `Bearer <one of the keys>`; constant time over the presented key's digest. */
function authorized(keyDigests: Buffer[], request: Request): boolean {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer ([^\s]+)$/i.exec(header);
  const presented = digest(match?.[1] ?? "");
  let matched = false;
  for (const expected of keyDigests) matched = timingSafeEqual(expected, presented) || matched;
  return matched && match !== null;
}

type Answer = (endpoint: AdminLogEntry["endpoint"], status: number, body: unknown, extra?: { reason?: string; headers?: Record<string, string> }) => Response;

/** The answer to a failure past authentication: never a bare 500 without a reason, never a leak. */
function failureAnswer(answer: Answer, endpoint: AdminLogEntry["endpoint"], error: unknown): Response {
  if (error instanceof UserSyncError) {
    const status = error.code === "DATABASE_UNAVAILABLE" ? 503 : error.code === "CLERK_TIMEOUT" ? 504 : 502;
    const headers: Record<string, string> = error.retryAfterSeconds ? { "Retry-After": String(error.retryAfterSeconds) } : {};
    return answer(endpoint, status, { error: error.code.toLowerCase() }, { reason: error.code, headers });
  }
  // Reconciliation's own Clerk failures carry a CLERK_… code like UserSyncError's.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("CLERK_")) {
    return answer(endpoint, code === "CLERK_TIMEOUT" ? 504 : 502, { error: code.toLowerCase().slice(0, 40) }, { reason: code.slice(0, 40) });
  }
  if (isDatabaseError(error)) {
    // Transient (connection, timeout, deadlock): try again later. Permanent: a bug to look at.
    return classifyDatabaseError(error) === "transient"
      ? answer(endpoint, 503, { error: "database_unavailable" }, { reason: "database_unavailable" })
      : answer(endpoint, 500, { error: "database_error" }, { reason: "database_error" });
  }
  return answer(endpoint, 500, { error: "internal_error" }, { reason: error instanceof Error ? error.name.slice(0, 60) : "unknown" });
}

export function createUserSyncAdmin(options: UserSyncAdminOptions) {
  const keyDigests = options.apiKey ? [options.apiKey, options.previousApiKey].filter((key): key is string => !!key).map(digest) : [];
  const log = options.log ?? writeToConsole;
  const isLocked = options.isReconcileLocked ?? ((error: unknown) => error instanceof Error && error.name === "ReconcileLockedError");

  function answer(endpoint: AdminLogEntry["endpoint"], status: number, body: unknown, extra: { reason?: string; headers?: Record<string, string> } = {}) {
    const level = status >= 500 ? "error" : status >= 400 ? "warn" : "info";
    try {
      log({ level, endpoint, status, ...(extra.reason ? { reason: extra.reason } : {}) });
    } catch {
      // A broken logger must not change the answer.
    }
    return Response.json(body, { status, headers: { ...jsonHeaders, ...extra.headers } });
  }

  /** The 503 / 401 answer when the request may not go on, else null. */
  function gate(endpoint: AdminLogEntry["endpoint"], request: Request): Response | null {
    if (keyDigests.length === 0) {
      return answer(endpoint, 503, { error: "not_configured", message: "The admin API is not configured" }, { reason: "not_configured" });
    }
    if (!authorized(keyDigests, request)) {
      return answer(endpoint, 401, { error: "unauthorized" }, { reason: "unauthorized", headers: { "WWW-Authenticate": 'Bearer realm="user-sync-admin"' } });
    }
    return null;
  }

  return {
    /** `GET /api/admin/user-sync/health` → 200 `HealthReport`. */
    async health(request: Request): Promise<Response> {
      const refused = gate("health", request);
      if (refused) return refused;
      try {
        return answer("health", 200, await options.health.check());
      } catch (error) {
        if ((isDatabaseError(error) && classifyDatabaseError(error) === "transient") || (error instanceof UserSyncError && error.code === "DATABASE_UNAVAILABLE")) {
          const problem: HealthProblem = { code: "database_unavailable", severity: "failing", message: "the health figures could not be read" };
          return answer("health", 503, { status: "failing", configOk: null, problems: [problemLine(problem)], problemDetails: [problem] }, { reason: "database_unavailable" });
        }
        return failureAnswer(answer, "health", error);
      }
    },

    /**
     * `POST /api/admin/user-sync/reconcile?dry_run=true|false&mode=full|incremental&force=true|false`
     * (defaults: dry run, full, not forced) → 200 `ReconcileReport`; 400 on other parameters; 409
     * while another run holds the lease; 422 `mass_deletion_refused` (`wouldDelete`, `limit` and
     * the run's report: creates and updates applied, no tombstone; `force=true` applies them) or
     * `incremental_too_deep` (run full mode); 502 `clerk_instance_mismatch` (the Backend API is
     * another Clerk instance) and 503 `clerk_instance_unproven` (the app does not know its
     * instance yet): nothing written; 503 when no reconciliation is wired.
     */
    async reconcile(request: Request): Promise<Response> {
      const refused = gate("reconcile", request);
      if (refused) return refused;
      const parsed = parseReconcileQuery(new URL(request.url).searchParams);
      if ("error" in parsed) return answer("reconcile", 400, { error: "bad_request", message: parsed.error }, { reason: "bad_request" });
      if (!options.reconcile) {
        return answer("reconcile", 503, { error: "reconcile_not_configured", message: "Reconciliation is not wired in this app" }, { reason: "reconcile_not_configured" });
      }
      try {
        return answer("reconcile", 200, await options.reconcile(parsed));
      } catch (error) {
        if (isLocked(error)) {
          return answer("reconcile", 409, { error: "reconcile_in_progress", message: "Another reconciliation run holds the lock" }, { reason: "locked" });
        }
        const refusal = refusalOf(error);
        if (refusal) {
          const { status, body } = refusalAnswer(refusal);
          return answer("reconcile", status, body, { reason: refusal.code });
        }
        if (error instanceof Error && error.name === "ReconcileLeaseLostError") {
          return answer("reconcile", 409, { error: "reconcile_lease_lost", message: error.message }, { reason: "lease_lost" });
        }
        return failureAnswer(answer, "reconcile", error);
      }
    },
  };
}

export type UserSyncAdmin = ReturnType<typeof createUserSyncAdmin>;

const reconcileParameters = new Set(["dry_run", "mode", "force"]);

/** `dry_run` (default true), `mode` (default full), `force` (default false); anything else is refused, values never echoed. */
export function parseReconcileQuery(params: URLSearchParams): ReconcileRequest | { error: string } {
  for (const name of new Set(params.keys())) {
    if (!reconcileParameters.has(name)) return { error: "Unknown query parameter: only dry_run, mode and force are accepted" };
    if (params.getAll(name).length > 1) return { error: `${name} is given more than once` };
  }
  const dryRun = params.get("dry_run") ?? "true";
  if (dryRun !== "true" && dryRun !== "false") return { error: "dry_run must be true or false" };
  const mode = params.get("mode") ?? "full";
  if (mode !== "full" && mode !== "incremental") return { error: "mode must be full or incremental" };
  const force = params.get("force") ?? "false";
  if (force !== "true" && force !== "false") return { error: "force must be true or false" };
  if (force === "true" && dryRun === "true") return { error: "force=true applies tombstones: it needs dry_run=false" };
  return force === "true" ? { dryRun: false, mode, force: true } : { dryRun: dryRun === "true", mode };
}

type Refusal = { code: ReconcileRefusalCode; message: string; report: ReconcileReport };

/** A guard's refusal (`ReconcileRefusedError`), recognised by its shape. */
function refusalOf(error: unknown): Refusal | null {
  if (!(error instanceof Error) || error.name !== "ReconcileRefusedError") return null;
  const { code, report } = error as Error & Partial<Refusal>;
  return typeof code === "string" && report ? { code, message: error.message, report } : null;
}

/** The status and body of each refusal (the error code in lower case, as the API's other errors). */
function refusalAnswer({ code, message, report }: Refusal): { status: number; body: Record<string, unknown> } {
  switch (code) {
    case "MASS_DELETION_REFUSED":
      return { status: 422, body: { error: "mass_deletion_refused", message, limit: report.deletionLimit, ...report } };
    case "INCREMENTAL_TOO_DEEP":
      return { status: 422, body: { error: "incremental_too_deep", message, ...report } };
    case "CLERK_INSTANCE_MISMATCH":
      return { status: 502, body: { error: "clerk_instance_mismatch", message, runId: report.runId } };
    case "CLERK_INSTANCE_UNPROVEN":
      return { status: 503, body: { error: "clerk_instance_unproven", message, runId: report.runId } };
  }
}

function writeToConsole(entry: AdminLogEntry) {
  const line = JSON.stringify({ at: "user-sync-admin", ...entry });
  if (entry.level === "error") console.error(line);
  else if (entry.level === "warn") console.warn(line);
  else console.info(line);
}
