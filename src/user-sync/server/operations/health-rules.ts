/**
 * What healthy means: the health report's shape, the thresholds, and the status and problems a
 * set of figures earns (`evaluateHealth`). The health view (health.ts) gathers the figures.
 */
export type HealthStatus = "healthy" | "warning" | "failing";

/**
 * What a health problem is about: `config` (a configuration problem, e.g. another Clerk instance),
 * `webhook_silence`, `database_unavailable` (the admin API's 503) make the status failing; the
 * others are warnings.
 */
export type HealthProblemCode =
  | "config"
  | "webhook_silence"
  | "database_unavailable"
  | "clerk_count_unavailable"
  | "discrepancy"
  | "self_heal_without_webhooks"
  | "webhook_lag"
  | "dead_letters"
  | "errors";

/** One problem of a health report; its line in `problems` is `<code>: <message>`. */
export type HealthProblem = {
  code: HealthProblemCode;
  /** The status this problem alone would give. */
  severity: Exclude<HealthStatus, "healthy">;
  /** What, with the figures (and for `config`, the configuration problem's own code first). */
  message: string;
};

/** The line of `problems` a typed problem is shown as. */
export const problemLine = (problem: HealthProblem) => `${problem.code}: ${problem.message}`;

export type ReconcileCounts = { missing: number; stale: number; deleted: number; unchanged: number };

/** What the health view shows of the last reconciliation run. */
export type LastReconcileRun = { runId: string; finishedAt: Date | string; dryRun: boolean; counts: ReconcileCounts };

export type HealthReport = {
  status: HealthStatus;
  /** Clerk's own count of users; null when Clerk could not be asked. */
  clerkUsers: number | null;
  /** When `clerkUsers` was read from Clerk (it may be reused for the count's cache period); null with it. */
  clerkUsersReadAt: string | null;
  liveUsers: number;
  tombstones: number;
  /** |clerkUsers − liveUsers|; null when Clerk's count is unknown. */
  discrepancy: number | null;
  lastWebhookAt: string | null;
  /** 95th percentile of processed_at − event time over the last 100 deliveries of the last 24 h. */
  webhookLagMs: number | null;
  selfHealLastHour: number;
  selfHealLastDay: number;
  outcomesLastDay: Record<string, Record<string, number>>;
  errorsLastHour: number;
  /** Dead letters in the webhook inbox: signed deliveries that could not apply, kept until cleared. */
  deadLetters: number;
  lastReconcile: { runId: string; finishedAt: string; dryRun: boolean; counts: ReconcileCounts } | null;
  configOk: boolean;
  /** One line per problem: `<code>: <what, with the figures>`. Empty when healthy. */
  problems: string[];
  /** The same problems, in the same order, as typed values: read `code` rather than parse the lines. */
  problemDetails: HealthProblem[];
};

/** When each problem is raised, and how bad it is (see `evaluateHealth`). */
export type HealthThresholds = {
  /** Warning above this many users between Clerk's count and the live rows. */
  discrepancyUsers: number;
  /** Warning above this many self-heals in the last hour while no webhook arrived for `webhookQuietMinutes`. */
  selfHealPerHour: number;
  webhookQuietMinutes: number;
  /**
   * Failing when webhooks are configured, client syncs called Clerk in the last day, and no
   * delivery came for this long (counted only once telemetry has been recording this long).
   */
  webhookSilenceHours: number;
  /** Warning above this webhook lag (p95 of the last 100 processed deliveries of the last 24 h). */
  webhookLagMs: number;
  /** Warning above this many dead letters in the inbox. */
  deadLetters: number;
  /** Warning above this many failed write attempts in the last hour. */
  errorsPerHour: number;
};

export const defaultHealthThresholds: HealthThresholds = {
  discrepancyUsers: 10,
  selfHealPerHour: 50,
  webhookQuietMinutes: 60,
  webhookSilenceHours: 24,
  webhookLagMs: 15 * 60_000,
  deadLetters: 0,
  errorsPerHour: 50,
};

/** The figures `evaluateHealth` judges. */
export type HealthFacts = Omit<HealthReport, "status" | "problems" | "problemDetails" | "configOk"> & {
  configProblems: string[];
  /** Why Clerk's count could not be read (an error code), or null. */
  clerkCountError: string | null;
  webhooksConfigured: boolean;
  clientSyncClerkFetchesLastDay: number;
  /** The oldest write telemetry bucket: how long this app has been watched. */
  observedSince: string | null;
  nowMs: number;
};

/**
 * The status and problems for a set of figures. Failing: a configuration problem (e.g. another
 * Clerk instance) or webhook silence (configured, users syncing, nothing delivered for
 * `webhookSilenceHours`: the endpoint is down or disabled). Warning: everything else listed.
 */
export function evaluateHealth(facts: HealthFacts, thresholds: HealthThresholds = defaultHealthThresholds) {
  const failing: HealthProblem[] = [];
  const warnings: HealthProblem[] = [];
  const fail = (code: HealthProblemCode, message: string) => failing.push({ code, severity: "failing", message });
  const warn = (code: HealthProblemCode, message: string) => warnings.push({ code, severity: "warning", message });
  for (const problem of facts.configProblems) fail("config", problem);

  const lastWebhookMs = facts.lastWebhookAt ? Date.parse(facts.lastWebhookAt) : null;
  const sinceWebhookMs = lastWebhookMs === null ? Infinity : facts.nowMs - lastWebhookMs;
  const lastSeen = facts.lastWebhookAt ?? "never";
  const silenceMs = thresholds.webhookSilenceHours * 3_600_000;
  // "Never" is only silence once the app has been watched that long (not a fresh install).
  const watchedLongEnough = lastWebhookMs !== null || (facts.observedSince !== null && facts.nowMs - Date.parse(facts.observedSince) >= silenceMs);
  if (facts.webhooksConfigured && facts.clientSyncClerkFetchesLastDay > 0 && sinceWebhookMs > silenceMs && watchedLongEnough) {
    fail(
      "webhook_silence",
      `no webhook delivery for over ${thresholds.webhookSilenceHours} h (last: ${lastSeen}) while ${facts.clientSyncClerkFetchesLastDay} client syncs called Clerk in the last day; check the endpoint in Clerk's dashboard (Svix disables it after 5 days of failures)`,
    );
  }
  if (facts.clerkCountError) warn("clerk_count_unavailable", facts.clerkCountError);
  if (facts.discrepancy !== null && facts.discrepancy > thresholds.discrepancyUsers) {
    warn(
      "discrepancy",
      `Clerk has ${facts.clerkUsers} users, the mirror ${facts.liveUsers} live rows (${facts.discrepancy} apart, threshold ${thresholds.discrepancyUsers}); run a reconciliation`,
    );
  }
  if (facts.selfHealLastHour > thresholds.selfHealPerHour && sinceWebhookMs > thresholds.webhookQuietMinutes * 60_000) {
    warn(
      "self_heal_without_webhooks",
      `${facts.selfHealLastHour} client syncs repaired the mirror in the last hour (threshold ${thresholds.selfHealPerHour}) while no webhook arrived for ${thresholds.webhookQuietMinutes} min (last: ${lastSeen})`,
    );
  }
  if (facts.webhookLagMs !== null && facts.webhookLagMs > thresholds.webhookLagMs) {
    warn("webhook_lag", `recent deliveries took ${facts.webhookLagMs} ms (p95) from the event to its commit (threshold ${thresholds.webhookLagMs} ms)`);
  }
  if (facts.deadLetters > thresholds.deadLetters) {
    warn(
      "dead_letters",
      `${facts.deadLetters} signed deliveries could not be applied (clerk_webhook_events.dead_letter_reason); fix the cause, reconcile, then clear them`,
    );
  }
  if (facts.errorsLastHour > thresholds.errorsPerHour) {
    warn("errors", `${facts.errorsLastHour} write attempts failed in the last hour (threshold ${thresholds.errorsPerHour})`);
  }
  const status: HealthStatus = failing.length ? "failing" : warnings.length ? "warning" : "healthy";
  const problemDetails = [...failing, ...warnings];
  return { status, problems: problemDetails.map(problemLine), problemDetails };
}
