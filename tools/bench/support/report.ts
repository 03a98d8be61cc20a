/** The shape every part reports, and the table `npm run bench` prints from it. */
import Table from "cli-table3";

export type Row = {
  part: string;
  measure: string;
  product: string;
  frameworkFloor: string;
  floor: string;
  /** product ÷ floor (latency) or product ÷ floor (throughput), as text with its unit. */
  ratio: string;
  goal: string;
  /** null: the row has no pass/fail goal. */
  met: boolean | null;
};

export type PartResult = { rows: Row[]; raw: unknown; notes: string[] };

export const ms = (value: number) => (Number.isFinite(value) ? `${value} ms` : "—");
export const perSecond = (value: number) => (Number.isFinite(value) ? `${value} req/s` : "—");
export const times = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100) / 100}×` : "—");

export function renderTable(rows: readonly Row[]): string {
  const table = new Table({
    head: ["Part", "Measure", "Product", "Framework floor", "Bare floor", "Ratio", "Goal", "Met"],
    style: process.stdout.isTTY ? {} : { head: [], border: [] },
  });
  for (const row of rows) {
    table.push([row.part, row.measure, row.product, row.frameworkFloor, row.floor, row.ratio, row.goal, row.met === null ? "" : row.met ? "yes" : "NO"]);
  }
  return table.toString();
}

/** The same rows as a Markdown table, for the README's Performance section. */
export function renderMarkdown(rows: readonly Row[]): string {
  const lines = ["| Part | Measure | Product | Framework floor | Bare floor | Ratio | Goal | Met |", "|---|---|---|---|---|---|---|---|"];
  for (const row of rows) {
    lines.push(
      `| ${[row.part, row.measure, row.product, row.frameworkFloor, row.floor, row.ratio, row.goal, row.met === null ? "" : row.met ? "yes" : "no"].join(" | ")} |`,
    );
  }
  return lines.join("\n");
}
