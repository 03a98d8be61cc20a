/** The shape every part reports, and the table `npm run bench` prints from it. */
import Table from "cli-table3";

export type Row = {
  part: string;
  measure: string;
  product: string;
  frameworkFloor: string;
  /** The recipe people copy (`/api/bench/peer-sync`); P3 only. */
  peer?: string;
  /** The bare floor (`floors/bare-floor.ts`). */
  floor: string;
  /** The raw floor (`floors/raw-floor.ts`). */
  rawFloor?: string;
  /** With `--baseline`: the same measure on the baseline build ("—" where it lacks the route). */
  before?: { product: string; frameworkFloor: string; peer: string };
  /** The ratios the goals need, as text with their units. */
  ratio: string;
  goal: string;
  /** null: the row has no pass/fail goal. */
  met: boolean | null;
};

export type PartResult = { rows: Row[]; raw: unknown; notes: string[] };

export const ms = (value: number) => (Number.isFinite(value) ? `${value} ms` : "—");
export const perSecond = (value: number) => (Number.isFinite(value) ? `${value} req/s` : "—");
export const times = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100) / 100}×` : "—");

function columns(rows: readonly Row[]): { head: string[]; cells: (row: Row) => string[] } {
  const withBefore = rows.some((row) => row.before);
  const met = (row: Row) => (row.met === null ? "" : row.met ? "yes" : "NO");
  return {
    head: [
      "Part",
      "Measure",
      ...(withBefore ? ["Before: product", "Before: framework", "Before: peer"] : []),
      "Product",
      "Framework floor",
      "Peer",
      "Bare floor",
      "Raw floor",
      "Ratios",
      "Goal",
      "Met",
    ],
    cells: (row) => [
      row.part,
      row.measure,
      ...(withBefore ? [row.before?.product ?? "—", row.before?.frameworkFloor ?? "—", row.before?.peer ?? "—"] : []),
      row.product,
      row.frameworkFloor,
      row.peer ?? "—",
      row.floor,
      row.rawFloor ?? "—",
      row.ratio,
      row.goal,
      met(row),
    ],
  };
}

export function renderTable(rows: readonly Row[]): string {
  const { head, cells } = columns(rows);
  const table = new Table({ head, style: process.stdout.isTTY ? {} : { head: [], border: [] } });
  for (const row of rows) table.push(cells(row));
  return table.toString();
}

/** The same rows as a Markdown table, for the README's Performance section. */
export function renderMarkdown(rows: readonly Row[]): string {
  const { head, cells } = columns(rows);
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const row of rows) lines.push(`| ${cells(row).map((cell) => (cell === "NO" ? "no" : cell)).join(" | ")} |`);
  return lines.join("\n");
}
