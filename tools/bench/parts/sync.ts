/**
 * P3: `user.sync` latency and throughput, alternating with what it is measured against, at
 * concurrency 1 and 64, many distinct users, the same load generator and session tokens for all:
 * - the product (`clerkMiddleware` → tRPC → Clerk fetch → write path);
 * - the framework floor (`bench.noop`: the same middleware and tRPC, no work);
 * - the peer (`/api/bench/peer-sync`: the recipe people copy, `auth()` → `getUser` → drizzle upsert);
 * - the bare floor (`POST /sync`: jose verify, one GET, the plugin's upsert through drizzle);
 * - the raw floor (`POST /sync`: jose verify, one GET, one guarded upsert in plain postgres.js);
 * - with `--baseline`, the baseline build's product, framework floor and peer (what it has).
 * Two workloads: `re-sync` (Clerk's clocks as stored: an identical re-sync) and `sign-in` (before
 * each run every user signs in at the emulator, which bumps Clerk's `updated_at` as a real sign-in
 * does, so a sync finds a newer clock and writes).
 */
import { alternate, load, summarize, type LoadFigures, type LoadRequest, type Summary } from "../support/load";
import { ms, perSecond, times, type PartResult, type Row } from "../support/report";
import type { Stack } from "../support/stack";
import { benchUsers, sessionTokenFor, signInAll } from "../support/users";

export type SyncOptions = {
  rounds: number;
  durationSeconds: number;
  users: number;
  concurrencies: number[];
  /** A fixed delay the emulator adds to every `GET /v1/users/:id` (a real Clerk is tens of ms away); 0: none. */
  clerkLatencyMs: number;
};

// What @trpc/client sends for a mutation without input (superjson's `undefined`).
const noInputBody = JSON.stringify({ json: null, meta: { values: ["undefined"], v: 1 } });

const workloads = ["re-sync", "sign-in"] as const;
type Workload = (typeof workloads)[number];

type Variant = "product" | "frameworkFloor" | "peer" | "floor" | "rawFloor" | "beforeProduct" | "beforeFrameworkFloor" | "beforePeer";
type Target = { url: string; path: string };

export async function benchSync(stack: Stack, options: SyncOptions): Promise<PartResult> {
  const users = await benchUsers(stack, options.users);
  const tokens = users.map((user) => sessionTokenFor(stack, user.id));
  const targets: Partial<Record<Variant, Target>> = {
    product: { url: stack.appUrl, path: "/api/trpc/user.sync" },
    frameworkFloor: { url: stack.appUrl, path: "/api/trpc/bench.noop" },
    peer: { url: stack.appUrl, path: "/api/bench/peer-sync" },
    floor: { url: stack.floorUrl, path: "/sync" },
    rawFloor: { url: stack.rawFloorUrl, path: "/sync" },
  };
  if (stack.baseline) {
    const { appUrl } = stack.baseline;
    targets.beforeProduct = { url: appUrl, path: "/api/trpc/user.sync" };
    targets.beforeFrameworkFloor = { url: appUrl, path: "/api/trpc/bench.noop" };
    // A build from before the peer existed answers 404: its column stays empty.
    const probe = await fetch(`${appUrl}/api/bench/peer-sync`, { method: "POST", headers: { authorization: `Bearer ${tokens[0]!}` } });
    if (probe.ok) targets.beforePeer = { url: appUrl, path: "/api/bench/peer-sync" };
  }
  let nextUser = 0;
  const run = (target: Target, connections: number, amountOrSeconds: { durationSeconds?: number; amount?: number }) =>
    load({
      url: target.url,
      connections,
      ...amountOrSeconds,
      next: (): LoadRequest => ({
        method: "POST",
        path: target.path,
        headers: { authorization: `Bearer ${tokens[nextUser++ % tokens.length]!}`, "content-type": "application/json" },
        body: noInputBody,
      }),
    });

  if (options.clerkLatencyMs > 0) await stack.emulator.setFault({ endpoint: "getUser", latencyMs: options.clerkLatencyMs });
  try {
    return await measure(stack, options, users, targets, run);
  } finally {
    if (options.clerkLatencyMs > 0) await stack.emulator.clearFaults("getUser");
  }
}

type Run = (target: Target, connections: number, amountOrSeconds: { durationSeconds?: number; amount?: number }) => Promise<LoadFigures>;

async function measure(stack: Stack, options: SyncOptions, users: { id: string }[], targets: Partial<Record<Variant, Target>>, run: Run): Promise<PartResult> {
  const variants = Object.keys(targets) as Variant[];
  // Warm-up (JIT, connection pools, Next's route modules), then every user synced once by each
  // build's product, so the first measured re-sync finds every row; not measured.
  for (const variant of variants) await run(targets[variant]!, 8, { durationSeconds: Math.min(2, options.durationSeconds) });
  for (const variant of ["product", "beforeProduct"] as const) if (targets[variant]) await run(targets[variant], 8, { amount: users.length });

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const writeShares: string[] = [];
  for (const workload of workloads) {
    for (const connections of options.concurrencies) {
      const runs = await alternate(options.rounds, variants, async (variant) => {
        // A sign-in bumps Clerk's clock: every user signs in before each run that syncs.
        if (workload === "sign-in" && variant !== "frameworkFloor" && variant !== "beforeFrameworkFloor") await signInAll(stack, users);
        return run(targets[variant]!, connections, { durationSeconds: options.durationSeconds });
      });
      const medians = Object.fromEntries(variants.map((variant) => [variant, summarize(runs[variant])])) as Partial<Record<Variant, Summary>>;
      raw[`${workload}:concurrency${connections}`] = { runs, medians };
      if (workload === "sign-in") {
        // Each user's first sync of a run finds the newer clock; later ones in the same run are re-syncs.
        const share = (variant: Variant) => `${variant} ${Math.round((100 * Math.min(1, users.length / Math.max(1, medians[variant]!.requests / options.rounds))))}%`;
        writeShares.push(`c${connections}: ${variants.filter((v) => !v.endsWith("rameworkFloor")).map(share).join(", ")}`);
      }
      rows.push(...rowsFor(workload, connections, medians));
    }
  }
  // The Clerk stand-in alone (the GET every sync makes, floors and product alike): its own ceiling
  // on this machine, so a floor that cannot go faster is not mistaken for a fast product.
  const highest = Math.max(...options.concurrencies);
  let nextUser = 0;
  const clerkAlone = await load({
    url: stack.emulator.origin,
    connections: highest,
    durationSeconds: options.durationSeconds,
    next: () => ({ method: "GET", path: `/v1/users/${users[nextUser++ % users.length]!.id}`, headers: { authorization: `Bearer ${stack.identity.secretKey}` } }),
  });
  return {
    rows,
    raw: { users: users.length, rounds: options.rounds, durationSeconds: options.durationSeconds, ...raw, clerkStandInAlone: clerkAlone },
    notes: [
      `P3: ${users.length} distinct users, ${options.rounds} rounds × ${options.durationSeconds} s per variant, workload and concurrency, medians; Clerk latency added by the emulator: ${options.clerkLatencyMs} ms. Ratios: product ÷ framework floor (the product's own share), ÷ peer, ÷ raw floor. The Clerk stand-in alone (GET /v1/users/:id, concurrency ${highest}, one run): ${clerkAlone.requestsPerSecond} req/s, p50 ${clerkAlone.p50Ms} ms.`,
      `P3 sign-in workload, share of a run's syncs that found a newer clock (users ÷ requests per run): ${writeShares.join("; ")}.`,
    ],
  };
}

function rowsFor(workload: Workload, connections: number, medians: Partial<Record<Variant, Summary>>): Row[] {
  const { product, frameworkFloor, peer, floor, rawFloor } = medians as Record<"product" | "frameworkFloor" | "peer" | "floor" | "rawFloor", Summary>;
  const failedVariants = Object.entries(medians).filter(([, summary]) => summary.failed > 0);
  const failureNote = failedVariants.length > 0 ? ` (failed: ${failedVariants.map(([variant, summary]) => `${variant} ${summary.failed}`).join(", ")})` : "";
  const rows: Row[] = [];
  const figure = (format: (value: number) => string, pick: (summary: Summary) => number) => (summary: Summary | undefined) => (summary ? format(pick(summary)) : "—");
  for (const quantileName of ["p50Ms", "p99Ms"] as const) {
    const latency = figure(ms, (summary) => summary[quantileName]);
    const frameworkRatio = product[quantileName] / frameworkFloor[quantileName];
    const peerRatio = product[quantileName] / peer[quantileName];
    rows.push({
      part: "P3 user.sync",
      measure: `${workload}, ${quantileName === "p50Ms" ? "p50" : "p99"}, concurrency ${connections}${failureNote}`,
      product: latency(product),
      frameworkFloor: latency(frameworkFloor),
      peer: latency(peer),
      floor: latency(floor),
      rawFloor: latency(rawFloor),
      ...(medians.beforeProduct
        ? { before: { product: latency(medians.beforeProduct), frameworkFloor: latency(medians.beforeFrameworkFloor), peer: latency(medians.beforePeer) } }
        : {}),
      ratio: `${times(frameworkRatio)} framework, ${times(peerRatio)} peer, ${times(product[quantileName] / rawFloor[quantileName])} raw floor`,
      goal: "≤ 1.2× framework, ≤ 1.0× peer",
      met: frameworkRatio <= 1.2 && peerRatio <= 1,
    });
  }
  const throughput = figure(perSecond, (summary) => summary.requestsPerSecond);
  rows.push({
    part: "P3 user.sync",
    measure: `${workload}, throughput, concurrency ${connections}${failureNote}`,
    product: throughput(product),
    frameworkFloor: throughput(frameworkFloor),
    peer: throughput(peer),
    floor: throughput(floor),
    rawFloor: throughput(rawFloor),
    ...(medians.beforeProduct
      ? { before: { product: throughput(medians.beforeProduct), frameworkFloor: throughput(medians.beforeFrameworkFloor), peer: throughput(medians.beforePeer) } }
      : {}),
    ratio: `${times(product.requestsPerSecond / frameworkFloor.requestsPerSecond)} framework, ${times(product.requestsPerSecond / peer.requestsPerSecond)} peer, ${times(product.requestsPerSecond / rawFloor.requestsPerSecond)} raw floor`,
    goal: "—",
    met: null,
  });
  return rows;
}
