"use client";

import { api } from "~/trpc/react";

import { WebhookChart } from "./webhook-chart";

function Figure({ label, value, hint, testId, tone = "plain" }: { label: string; value: string; hint?: string; testId: string; tone?: "plain" | "bad" | "good" }) {
  const color = tone === "bad" ? "text-red-700" : tone === "good" ? "text-emerald-700" : "text-slate-900";
  return (
    <div className="card p-5">
      <dt className="text-sm font-medium text-slate-600">{label}</dt>
      <dd className={`mt-1 text-3xl font-semibold tabular-nums ${color}`} data-testid={testId}>
        {value}
      </dd>
      {hint && <dd className="mt-1 text-xs text-slate-500">{hint}</dd>}
    </div>
  );
}

function duration(ms: number) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

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
  const data = overview.data;
  const drift = data.discrepancy;
  return (
    <div className="space-y-6" data-testid="console">
      <dl className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
        <Figure label="Users in Clerk" value={data.clerkUsers === null ? "unknown" : String(data.clerkUsers)} hint={data.clerkUsers === null ? "Clerk could not be asked" : "Clerk's own count"} testId="clerk-users" />
        <Figure label="Live rows" value={String(data.liveUsers)} hint={`${data.tombstones} deleted (tombstones)`} testId="live-users" />
        <Figure label="Discrepancy" value={drift === null ? "unknown" : String(drift)} hint="Clerk users − live rows" testId="discrepancy" tone={drift === null ? "plain" : drift === 0 ? "good" : "bad"} />
        <Figure label="Dead letters" value={String(data.deadLetters)} hint="Signed deliveries that could not apply" testId="dead-letters" tone={data.deadLetters > 0 ? "bad" : "good"} />
      </dl>
      <section className="card" aria-labelledby="webhooks-title">
        <div className="flex flex-wrap items-baseline justify-between gap-2">
          <h2 id="webhooks-title" className="text-lg font-semibold">
            Webhook deliveries, last 24 hours
          </h2>
          <p className="text-sm text-slate-600" data-testid="last-webhook">
            {data.lastWebhookAt
              ? `Last delivery ${new Date(data.lastWebhookAt).toLocaleString("en")}${data.lastWebhookLagMs !== null ? `, ${duration(data.lastWebhookLagMs)} after the change in Clerk` : ""}`
              : "No webhook delivery yet"}
          </p>
        </div>
        <WebhookChart hours={data.webhookHours} />
      </section>
    </div>
  );
}
