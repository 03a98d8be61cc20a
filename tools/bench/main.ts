/**
 * `npm run bench [-- <parts…>] [--rounds 3] [--duration 10] [--smoke] [--rebuild] [--cpu-prof] [--clerk-latency-ms 0] [--baseline <git-ref>] [--json-out file]`
 *
 * The product beside its floors, in one run on one machine: parts `sessions` (P1 Clerk calls and
 * P2 row versions per journey), `sync` (P3 user.sync latency and throughput), `reconcile` (P4),
 * `webhook` (P5) and `client` (P6); all of them when none is named. Product and floors run
 * alternately for `--rounds` rounds and the table shows medians and ratios; the raw figures go to
 * `.bench/bench-<time>.json`. `--smoke` runs every part with tiny sizes, P3 at concurrency 1 and 8 (what CI runs, so the
 * benchmarks cannot rot; its figures mean nothing). `--cpu-prof` profiles `next start` and prints
 * its top frames. `--clerk-latency-ms` makes the emulator's `GET /v1/users/:id` that much slower
 * during P3 (a fixed latency, as a real Clerk has). `--baseline <git-ref>` also builds that ref in
 * a git worktree of its own (`support/baseline.ts`) and serves it beside the current build: P3 and
 * P5 alternate both builds in the same run and the table gains "Before" columns (what the older
 * build has: a build without the peer route shows none). See `support/stack.ts` for ports and the database.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { benchClient } from "./parts/client";
import { benchReconcile } from "./parts/reconcile";
import { benchSessions } from "./parts/sessions";
import { benchSync } from "./parts/sync";
import { benchWebhook } from "./parts/webhook";
import { topFrames } from "./support/profile";
import { renderMarkdown, renderTable, type PartResult } from "./support/report";
import { prepareBaseline } from "./support/baseline";
import { profileDir, startStack, type Stack } from "./support/stack";

const partNames = ["sessions", "sync", "reconcile", "webhook", "client"] as const;
type PartName = (typeof partNames)[number];

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string" },
    duration: { type: "string" },
    smoke: { type: "boolean", default: false },
    rebuild: { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    "json-out": { type: "string" },
    "clerk-latency-ms": { type: "string", default: "0" },
    baseline: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
  strict: true,
});
for (const name of positionals) {
  if (!partNames.includes(name as PartName)) throw new Error(`unknown part "${name}": expected any of ${partNames.join(", ")}`);
}
const parts: PartName[] = positionals.length > 0 ? (positionals as PartName[]) : [...partNames];
const smoke = args.smoke;
const rounds = Number(args.rounds ?? (smoke ? 1 : 3));
const durationSeconds = Number(args.duration ?? (smoke ? 1 : 10));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer");
if (!(durationSeconds > 0)) throw new Error("--duration must be a positive number of seconds");
const clerkLatencyMs = Number(args["clerk-latency-ms"]);
if (!Number.isInteger(clerkLatencyMs) || clerkLatencyMs < 0) throw new Error("--clerk-latency-ms must be a whole number of milliseconds ≥ 0");

const log = (line: string) => process.stderr.write(`${line}\n`);
const verboseLog = args.verbose ? log : () => undefined;

async function runPart(name: PartName, stack: Stack | null): Promise<PartResult> {
  switch (name) {
    case "sessions":
      return benchSessions(stack!);
    case "sync":
      return benchSync(stack!, { rounds, durationSeconds, users: smoke ? 20 : 1000, concurrencies: smoke ? [1, 8] : [1, 64], clerkLatencyMs });
    case "reconcile":
      return benchReconcile({ users: smoke ? 2000 : 100_000, baselineUsers: smoke ? 200 : 10_000, log });
    case "webhook":
      return benchWebhook(stack!, { rounds, durationSeconds, users: smoke ? 20 : 1000, concurrency: 32, burst: smoke ? 20 : 200 });
    case "client":
      return benchClient(stack!, { rounds: smoke ? 1 : rounds });
  }
}

async function main() {
  const startedAt = new Date();
  const needsStack = parts.some((part) => part !== "reconcile");
  const baseline = needsStack && args.baseline ? prepareBaseline(args.baseline, log) : undefined;
  const stack = needsStack ? await startStack({ rebuild: args.rebuild, cpuProfile: args["cpu-prof"], progress: log, log: verboseLog, baseline }) : null;
  const results: Partial<Record<PartName, PartResult>> = {};
  try {
    for (const part of parts) {
      log(`— ${part} …`);
      results[part] = await runPart(part, stack);
    }
  } finally {
    await stack?.close();
  }

  const rows = partNames.flatMap((part) => results[part]?.rows ?? []);
  const settings = [
    `Product: next build (${stack?.distDir ?? "—"}) + next start, PostgreSQL ${process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/user_sync_bench"}, the Clerk emulator in its own process with its rate limits off;`,
    `the app runs with ${Object.entries(stack?.appSettings ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")}, so the product is measured, not Clerk's limits.`,
    `Bare floor: tools/bench/floors/bare-floor.ts (node:http, drizzle, the plugin's upsert). Raw floor: tools/bench/floors/raw-floor.ts (node:http, plain postgres.js). Framework floor: bench.noop through the same clerkMiddleware and tRPC. Peer: /api/bench/peer-sync (auth(), clerkClient().users.getUser, a plain drizzle upsert).`,
    ...(stack?.baseline ? [`Before: ${stack.baseline.label}, built in ${stack.baseline.distDir}, its own database, alternating with the current build.`] : []),
    `${rounds} round(s), ${durationSeconds} s per load run, product and floors alternating; medians.${smoke ? " SMOKE RUN: tiny sizes, figures mean nothing." : ""}`,
  ];
  process.stdout.write(`${renderTable(rows)}\n${settings.join("\n")}\n`);
  for (const part of partNames) for (const note of results[part]?.notes ?? []) process.stdout.write(`${note}\n`);

  const profile = args["cpu-prof"] ? topFrames(profileDir, 25) : null;
  if (profile) process.stdout.write(`\nnext start CPU profile (${profile.file}), top frames by self time:\n${profile.text}\n`);

  const result = {
    at: startedAt.toISOString(),
    node: process.version,
    smoke,
    rounds,
    durationSeconds,
    parts: Object.fromEntries(Object.entries(results).map(([name, part]) => [name, { rows: part.rows, raw: part.raw, notes: part.notes }])),
    settings,
    markdown: renderMarkdown(rows),
    profile,
  };
  const file = args["json-out"] ?? path.join(".bench", `bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`raw figures: ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
