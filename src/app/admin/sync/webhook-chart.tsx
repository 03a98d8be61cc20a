"use client";

import { Bar } from "recharts";

import type { WebhookHour } from "~/server/console";

import { HourlyBarChart, hourLabel } from "./hourly-bar-chart";

// One colour per outcome, readable on white; unknown outcomes fall back to slate.
const outcomeColors: Record<string, string> = {
  created: "#4f46e5",
  updated: "#0891b2",
  restored: "#7c3aed",
  unchanged: "#94a3b8",
  stale: "#d97706",
  deleted: "#475569",
  dead_letter: "#dc2626",
};

/** Deliveries per hour by outcome, with the same figures as a table for screen readers (and tests). */
export function WebhookChart({ hours }: { hours: WebhookHour[] }) {
  const outcomes = [...new Set(hours.flatMap((hour) => Object.keys(hour.counts)))].sort();
  const points = hours.map((hour) => ({ hour: hourLabel(hour.hourStart), ...hour.counts }));
  return (
    <div className="mt-4">
      <HourlyBarChart points={points} testId="webhook-chart" heightClassName="h-64" emptyText={outcomes.length === 0 ? "No webhook delivery in the last 24 hours" : undefined}>
        {outcomes.map((outcome) => (
          <Bar key={outcome} dataKey={outcome} stackId="outcomes" fill={outcomeColors[outcome] ?? "#64748b"} isAnimationActive={false} />
        ))}
      </HourlyBarChart>
      <table className="sr-only" data-testid="webhook-hours">
        <caption>Webhook deliveries per hour by outcome</caption>
        <thead>
          <tr>
            <th scope="col">Hour</th>
            <th scope="col">Outcome</th>
            <th scope="col">Deliveries</th>
          </tr>
        </thead>
        <tbody>
          {hours.flatMap((hour) =>
            Object.entries(hour.counts).map(([outcome, count]) => (
              <tr key={`${hour.hourStart}-${outcome}`} data-hour={hour.hourStart} data-outcome={outcome}>
                <td>{hourLabel(hour.hourStart)}</td>
                <td>{outcome}</td>
                <td>{count}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
    </div>
  );
}
