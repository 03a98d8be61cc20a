"use client";

import { Bar, Line } from "recharts";

import type { WebhookHour, WriteHour } from "~/server/console";

import { HourlyBarChart, hourLabel } from "./hourly-bar-chart";

// A hue per source, a lightness per outcome: each source is one stack, its outcomes shades of it.
const sourceHues: Record<string, number> = { "client-sync": 243, webhook: 189, reconcile: 32, "profile-update": 271 };
const outcomeLightness: Record<string, number> = { created: 38, updated: 48, restored: 30, touched: 62, unchanged: 74, stale: 82, deleted: 22, error: 50 };

function seriesColor(source: string, outcome: string) {
  if (outcome === "error") return "#dc2626";
  // Clerk turned an edit down (a taken username): amber, apart from the errors.
  if (outcome === "refused") return "#f59e0b";
  const hue = sourceHues[source];
  const lightness = outcomeLightness[outcome] ?? 56;
  return hue === undefined ? `hsl(215 16% ${lightness}%)` : `hsl(${hue} 70% ${lightness}%)`;
}

/** Write attempts per hour: one stack per source (client sync, webhook, …), split by outcome. */
export function WriteOutcomesChart({ hours }: { hours: WriteHour[] }) {
  const series = [...new Set(hours.flatMap((hour) => Object.entries(hour.counts).flatMap(([source, outcomes]) => Object.keys(outcomes).map((outcome) => `${source}|${outcome}`))))].sort();
  const points = hours.map((hour) => {
    const point: Record<string, string | number> = { hour: hourLabel(hour.hourStart) };
    for (const [source, outcomes] of Object.entries(hour.counts)) for (const [outcome, n] of Object.entries(outcomes)) point[`${source}|${outcome}`] = n;
    return point;
  });
  return (
    <div className="mt-4">
      <HourlyBarChart points={points} testId="write-chart" heightClassName="h-72" emptyText={series.length === 0 ? "No write attempt in the last 24 hours" : undefined}>
        {series.map((key) => {
          const [source = "", outcome = ""] = key.split("|");
          return <Bar key={key} dataKey={key} name={`${source} · ${outcome}`} stackId={source} fill={seriesColor(source, outcome)} isAnimationActive={false} />;
        })}
      </HourlyBarChart>
      <table className="sr-only" data-testid="write-hours">
        <caption>Write attempts per hour by source and outcome</caption>
        <thead>
          <tr>
            <th scope="col">Hour</th>
            <th scope="col">Source</th>
            <th scope="col">Outcome</th>
            <th scope="col">Attempts</th>
          </tr>
        </thead>
        <tbody>
          {hours.flatMap((hour) =>
            Object.entries(hour.counts).flatMap(([source, outcomes]) =>
              Object.entries(outcomes).map(([outcome, n]) => (
                <tr key={`${hour.hourStart}-${source}-${outcome}`} data-hour={hour.hourStart} data-source={source} data-outcome={outcome}>
                  <td>{hourLabel(hour.hourStart)}</td>
                  <td>{source}</td>
                  <td>{outcome}</td>
                  <td>{n}</td>
                </tr>
              )),
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Self-heals (client syncs that created, updated or restored a row) as bars, webhook deliveries
 * as a line, per hour: bars with a flat line at 0 read "webhooks are broken and self-heal is covering".
 */
export function SelfHealChart({ writeHours, webhookHours }: { writeHours: WriteHour[]; webhookHours: WebhookHour[] }) {
  const points = writeHours.map((hour, i) => ({ hour: hourLabel(hour.hourStart), selfHeals: hour.selfHeals, webhooks: webhookHours[i]?.total ?? 0 }));
  return (
    <div className="mt-4">
      <HourlyBarChart
        points={points}
        testId="self-heal-chart"
        heightClassName="h-56"
        composed
        emptyText={points.every((point) => point.selfHeals === 0 && point.webhooks === 0) ? "No self-heal and no webhook delivery in the last 24 hours" : undefined}
      >
        <Bar dataKey="selfHeals" name="Self-heals (client sync)" fill="#d97706" isAnimationActive={false} />
        <Line dataKey="webhooks" name="Webhook deliveries" stroke="#0891b2" strokeWidth={2} dot={false} type="linear" isAnimationActive={false} />
      </HourlyBarChart>
      <table className="sr-only" data-testid="self-heal-hours">
        <caption>Self-heals and webhook deliveries per hour</caption>
        <thead>
          <tr>
            <th scope="col">Hour</th>
            <th scope="col">Self-heals</th>
            <th scope="col">Webhook deliveries</th>
          </tr>
        </thead>
        <tbody>
          {writeHours.map((hour, i) => (
            <tr key={hour.hourStart} data-hour={hour.hourStart}>
              <td>{hourLabel(hour.hourStart)}</td>
              <td>{hour.selfHeals}</td>
              <td>{webhookHours[i]?.total ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
