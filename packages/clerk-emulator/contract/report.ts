import { inspect } from "node:util";

import type { Check } from "./context";
import type { CaseResult } from "./run";

const show = (value: unknown) => inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 200 });

const outcomeLabels: Record<Check["outcome"], string> = { pass: "pass", differs: "DIFFERS", answered: "answer", "not-run": "not run" };

/** One line per assertion: kind, outcome, claim, source; for a difference, expected and answered; for an unknown, the answer. */
export function formatCheck(check: Check, targetName: string) {
  const head = `  ${check.kind.padEnd(10)} ${outcomeLabels[check.outcome].padEnd(7)} ${check.claim}`;
  const source = `\n${" ".repeat(21)}source: ${check.source}`;
  if (check.outcome === "differs") return `${head}${source}\n${" ".repeat(21)}expected ${show(check.expected)}, ${targetName} answered ${show(check.actual)}`;
  if (check.outcome === "answered") return `${head}\n${" ".repeat(21)}${targetName} answered: ${show(check.actual)}${source}`;
  if (check.outcome === "not-run") return `${head} (${String(check.actual)})`;
  return `${head}${source}`;
}

export function formatReport(results: CaseResult[], targetName: string) {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`\n${result.name}`);
    for (const check of result.checks) lines.push(formatCheck(check, targetName));
    if (result.error) lines.push(`  ERROR      ${result.error}`);
  }
  return lines.join("\n");
}

/** Counts per kind and outcome, and whether anything differs or failed. */
export function summarize(results: CaseResult[]) {
  const checks = results.flatMap((result) => result.checks);
  const count = (kind: Check["kind"], outcome: Check["outcome"]) => checks.filter((c) => c.kind === kind && c.outcome === outcome).length;
  const errors = results.filter((result) => result.error !== null).length;
  const differs = checks.filter((c) => c.outcome === "differs").length;
  const line = [
    `documented ${count("documented", "pass")} pass, ${count("documented", "differs")} differ`,
    `observed ${count("observed", "pass")} pass, ${count("observed", "differs")} differ`,
    `unknown ${count("unknown", "pass")} as switched, ${count("unknown", "differs")} differ, ${count("unknown", "answered")} answered`,
    `${checks.filter((c) => c.outcome === "not-run").length} not run`,
    `${errors} case errors`,
  ].join("; ");
  return { line, ok: differs === 0 && errors === 0 };
}
