"use client";

import type { ReactNode } from "react";
import { BarChart, CartesianGrid, ComposedChart, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/** "14:00" for an hour's ISO start, in the viewer's time zone. */
export function hourLabel(iso: string) {
  return new Date(iso).toLocaleTimeString("en", { hour: "2-digit", minute: "2-digit", hour12: false });
}

const axisTick = { fontSize: 12, fill: "#475569" };

/**
 * The console's 24-hour chart frame: grid, hour axis (every third label), integer counts,
 * tooltip and legend. `children` are the series (`<Bar stackId=…>`, `<Line>`); "composed"
 * allows lines beside bars. Drawn inside an `aria-hidden` box: each chart has a table beside it.
 * With `emptyText` set (nothing to draw) the box says so instead of showing bare axes.
 */
export function HourlyBarChart({
  points,
  testId,
  heightClassName,
  composed = false,
  emptyText,
  children,
}: {
  points: Record<string, string | number>[];
  testId: string;
  heightClassName: string;
  composed?: boolean;
  emptyText?: string;
  children: ReactNode;
}) {
  if (emptyText) {
    return (
      <div className={`${heightClassName} flex items-center justify-center rounded-xl border border-dashed border-slate-300 bg-slate-50 text-sm text-slate-600`} data-testid={testId} data-empty>
        {emptyText}
      </div>
    );
  }
  const Chart = composed ? ComposedChart : BarChart;
  return (
    <div className={heightClassName} data-testid={testId} aria-hidden>
      <ResponsiveContainer width="100%" height="100%">
        <Chart data={points} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="hour" tick={axisTick} interval={2} />
          <YAxis allowDecimals={false} tick={axisTick} />
          <Tooltip />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {children}
        </Chart>
      </ResponsiveContainer>
    </div>
  );
}
