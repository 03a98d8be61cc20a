"use client";

import type { HealthReport } from "clerk-user-sync/server";

import { api } from "~/trpc/react";

import { ReconcilePanel } from "./reconcile-panel";
import { UsersTable } from "./users-table";
import { WebhookChart } from "./webhook-chart";
import { SelfHealChart, WriteOutcomesChart } from "./write-charts";

/** A time in the admin's own clock, to the second (figures minutes apart must look apart), with its day when not today. */
function clockTime(iso: string) {
  const date = new Date(iso);
  const time = date.toLocaleTimeString("en", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString("en", { month: "short", day: "numeric" })}, ${time}`;
}

function Figure({
  label,
  value,
  hint,
  asOf,
  testId,
  tone = "plain",
}: {
  label: string;
  value: string;
  hint?: string;
  /** When the figure was taken: every tile says it, so two figures read at different times never pass for one moment. */
  asOf: string;
  testId: string;
  tone?: "plain" | "bad" | "good";
}) {
  const color = tone === "bad" ? "text-red-700" : tone === "good" ? "text-emerald-700" : "text-slate-900";
  return (
    <div className="card p-5">
      <dt className="text-sm font-medium text-slate-600">{label}</dt>
      <dd className={`mt-1 text-3xl font-semibold tabular-nums ${color}`} data-testid={testId}>
        {value}
      </dd>
      {hint && (
        <dd className="mt-1 text-xs text-slate-500" data-testid={`${testId}-hint`}>
          {hint}
        </dd>
      )}
      <dd className="mt-1 text-xs text-slate-400" data-testid={`${testId}-as-of`}>
        {asOf}
      </dd>
    </div>
  );
}

function duration(ms: number) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Clerk's count is read once for all instances and reused for a while (and again after each reconciliation): say when it was read. */
function clerkCountAsOf(health: Pick<HealthReport, "clerkUsers" | "clerkUsersReadAt" | "problemDetails">, generatedAt: string) {
  const readAt = health.clerkUsersReadAt ? `as of ${clockTime(health.clerkUsersReadAt)}` : null;
  const unavailable = health.problemDetails.some((problem) => problem.code === "clerk_count_unavailable");
  if (health.clerkUsers === null) return `Clerk could not be asked at ${clockTime(generatedAt)}`;
  if (unavailable) return `Clerk could not be asked; last count ${readAt ?? ""}`.trim();
  return `Clerk's own count, ${readAt ?? `as of ${clockTime(generatedAt)}`}`;
}

const statusLook = {
  healthy: { label: "Healthy", className: "border-emerald-200 bg-emerald-50 text-emerald-900" },
  warning: { label: "Warning", className: "border-amber-200 bg-amber-50 text-amber-900" },
  failing: { label: "Failing", className: "border-red-200 bg-red-50 text-red-900" },
} as const;

export function ConsoleView() {
  const overview = api.admin.overview.useQuery(undefined, { refetchInterval: 15_000 });
  if (overview.isPending) return <p className="text-slate-600">Loading the figures…</p>;
  if (overview.error) {
    return (
      <p role="alert" className="card border-red-200 bg-red-50 text-red-800">
        The figures could not be read: {overview.error.message}
      </p>
    );
  }
  const { health, webhookHours, writeHours, generatedAt } = overview.data;
  const drift = health.discrepancy;
  const look = statusLook[health.status];
  // The figures PostgreSQL holds are read at `generatedAt`; Clerk's count has its own time.
  const asOf = `as of ${clockTime(generatedAt)}`;
  const lastHourAsOf = `the hour to ${clockTime(generatedAt)}`;
  return (
    <div className="space-y-6" data-testid="console">
      <section className={`card ${look.className}`} aria-labelledby="status-title" data-testid="health-status" data-status={health.status}>
        <h2 id="status-title" className="text-lg font-semibold">
          Status: {look.label}
        </h2>
        <p className="mt-1 text-xs opacity-80" data-testid="figures-as-of">
          Figures {asOf}, read again every 15 s; Clerk&apos;s count is shared by every instance for a while and read again after each reconciliation.
        </p>
        {health.problems.length === 0 ? (
          <p className="mt-1 text-sm">No problem found.</p>
        ) : (
          <ul className="mt-2 list-disc space-y-1 pl-5 text-sm" data-testid="health-problems">
            {health.problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        )}
      </section>
      <dl className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
        <Figure label="Users in Clerk" value={health.clerkUsers === null ? "unknown" : String(health.clerkUsers)} asOf={clerkCountAsOf(health, generatedAt)} testId="clerk-users" />
        <Figure label="Live rows" value={String(health.liveUsers)} hint={`${health.tombstones} deleted (tombstones)`} asOf={asOf} testId="live-users" />
        <Figure
          label="Discrepancy"
          value={drift === null ? "unknown" : String(drift)}
          hint="Clerk users − live rows"
          asOf={health.clerkUsersReadAt ? `Clerk's count as of ${clockTime(health.clerkUsersReadAt)}, rows ${asOf}` : asOf}
          testId="discrepancy"
          tone={drift === null ? "plain" : drift === 0 ? "good" : "bad"}
        />
        <Figure label="Dead letters" value={String(health.deadLetters)} hint="Signed deliveries that could not apply" asOf={asOf} testId="dead-letters" tone={health.deadLetters > 0 ? "bad" : "good"} />
        <Figure label="Self-heals, last hour" value={String(health.selfHealLastHour)} hint={`${health.selfHealLastDay} in the last 24 h`} asOf={lastHourAsOf} testId="self-heal-last-hour" />
        <Figure
          label="Write errors, last hour"
          value={String(health.errorsLastHour)}
          hint="Failed writes; edits Clerk refused (a taken username) are not errors"
          asOf={lastHourAsOf}
          testId="errors-last-hour"
          tone={health.errorsLastHour > 0 ? "bad" : "good"}
        />
        <Figure
          label="Webhook lag (p95)"
          value={health.webhookLagMs === null ? "none" : duration(health.webhookLagMs)}
          hint="Clerk's change → processed here"
          asOf={`last 100 deliveries to ${clockTime(generatedAt)}`}
          testId="webhook-lag"
        />
        <Figure
          label="Last reconcile"
          value={
            health.lastReconcile
              ? `${health.lastReconcile.counts.missing + health.lastReconcile.counts.stale + health.lastReconcile.counts.deleted} ${health.lastReconcile.dryRun ? "found" : "fixed"}`
              : "never"
          }
          hint={
            health.lastReconcile
              ? `${health.lastReconcile.dryRun ? "Dry run" : "Applied"}: ${health.lastReconcile.counts.missing} missing, ${health.lastReconcile.counts.stale} stale, ${health.lastReconcile.counts.deleted} deleted`
              : "No reconciliation has run"
          }
          asOf={health.lastReconcile ? `finished ${clockTime(health.lastReconcile.finishedAt)}` : asOf}
          testId="last-reconcile"
        />
      </dl>
      <ReconcilePanel />
      <section className="card" aria-labelledby="self-heal-title">
        <h2 id="self-heal-title" className="text-lg font-semibold">
          Self-heal beside webhooks, last 24 hours
        </h2>
        <p className="mt-1 text-sm text-slate-600">Self-heal bars with no webhook line mean webhooks are not arriving and client syncs are covering for them.</p>
        <SelfHealChart writeHours={writeHours} webhookHours={webhookHours} />
      </section>
      <section className="card" aria-labelledby="writes-title">
        <h2 id="writes-title" className="text-lg font-semibold">
          Write outcomes by source, last 24 hours
        </h2>
        <WriteOutcomesChart hours={writeHours} />
      </section>
      <section className="card" aria-labelledby="webhooks-title">
        <div className="flex flex-wrap items-baseline justify-between gap-2">
          <h2 id="webhooks-title" className="text-lg font-semibold">
            Webhook deliveries, last 24 hours
          </h2>
          <p className="text-sm text-slate-600" data-testid="last-webhook">
            {health.lastWebhookAt ? `Last delivery ${new Date(health.lastWebhookAt).toLocaleString("en")}` : "No webhook delivery yet"}
          </p>
        </div>
        <WebhookChart hours={webhookHours} />
      </section>
      <UsersTable />
    </div>
  );
}
