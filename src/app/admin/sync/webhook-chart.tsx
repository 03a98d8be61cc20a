"use client";

import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import type { WebhookHour } from "~/server/console";

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

function hourLabel(iso: string) {
  return new Date(iso).toLocaleTimeString("en", { hour: "2-digit", minute: "2-digit", hour12: false });
}

/** Deliveries per hour by outcome, with the same figures as a table for screen readers (and tests). */
export function WebhookChart({ hours }: { hours: WebhookHour[] }) {
  const outcomes = [...new Set(hours.flatMap((hour) => Object.keys(hour.counts)))].sort();
  const points = hours.map((hour) => ({ hour: hourLabel(hour.hourStart), ...hour.counts }));
  return (
    <div className="mt-4">
      <div className="h-64" data-testid="webhook-chart" aria-hidden>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
            <XAxis dataKey="hour" tick={{ fontSize: 12, fill: "#475569" }} interval={2} />
            <YAxis allowDecimals={false} tick={{ fontSize: 12, fill: "#475569" }} />
            <Tooltip />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {outcomes.map((outcome) => (
              <Bar key={outcome} dataKey={outcome} stackId="outcomes" fill={outcomeColors[outcome] ?? "#64748b"} isAnimationActive={false} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
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
