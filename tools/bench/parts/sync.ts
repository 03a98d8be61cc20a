/**
 * P3: `user.sync` latency and throughput. The product (a signed request through
 * `clerkMiddleware` → tRPC → Clerk fetch → write path), the framework floor (`bench.noop`: the
 * same middleware and tRPC, no work) and the bare floor (`POST /sync`: jose verify, one GET, the
 * same upsert), alternating, at concurrency 1 and 64, many distinct users.
 */
import { alternate, load, summarize, type LoadRequest } from "../support/load";
import { ms, perSecond, times, type PartResult, type Row } from "../support/report";
import type { Stack } from "../support/stack";
import { benchUsers, sessionTokenFor } from "../support/users";

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

const variants = ["product", "frameworkFloor", "floor"] as const;
type Variant = (typeof variants)[number];

export async function benchSync(stack: Stack, options: SyncOptions): Promise<PartResult> {
  const users = await benchUsers(stack, options.users);
  const tokens = users.map((user) => sessionTokenFor(stack, user.id));
  const targets: Record<Variant, { url: string; path: string }> = {
    product: { url: stack.appUrl, path: "/api/trpc/user.sync" },
    frameworkFloor: { url: stack.appUrl, path: "/api/trpc/bench.noop" },
    floor: { url: stack.floorUrl, path: "/sync" },
  };
  let nextUser = 0;
  const requestFor = (variant: Variant) => (): LoadRequest => ({
    method: "POST",
    path: targets[variant].path,
    headers: { authorization: `Bearer ${tokens[nextUser++ % tokens.length]!}`, "content-type": "application/json" },
    body: noInputBody,
  });
  const run = (variant: Variant, connections: number, durationSeconds: number) =>
    load({ url: targets[variant].url, connections, durationSeconds, next: requestFor(variant) });

  if (options.clerkLatencyMs > 0) await stack.emulator.setFault({ endpoint: "getUser", latencyMs: options.clerkLatencyMs });
  try {
    return await measure(stack, options, users, run);
  } finally {
    if (options.clerkLatencyMs > 0) await stack.emulator.clearFaults("getUser");
  }
}

async function measure(
  stack: Stack,
  options: SyncOptions,
  users: { id: string }[],
  run: (variant: Variant, connections: number, durationSeconds: number) => ReturnType<typeof load>,
): Promise<PartResult> {
  let nextUser = 0;
  // Warm-up: JIT, connection pools, Next's route modules; not measured.
  for (const variant of variants) await run(variant, 8, Math.min(2, options.durationSeconds));

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  for (const connections of options.concurrencies) {
    const runs = await alternate(options.rounds, variants, (variant) => run(variant, connections, options.durationSeconds));
    const product = summarize(runs.product);
    const framework = summarize(runs.frameworkFloor);
    const floor = summarize(runs.floor);
    raw[`concurrency${connections}`] = { runs, medians: { product, frameworkFloor: framework, floor } };
    const failures = product.failed + framework.failed + floor.failed;
    const failureNote = failures > 0 ? ` (${product.failed}/${framework.failed}/${floor.failed} failed)` : "";
    for (const quantileName of ["p50Ms", "p99Ms"] as const) {
      const ratio = product[quantileName] / floor[quantileName];
      const frameworkRatio = product[quantileName] / framework[quantileName];
      rows.push({
        part: "P3 user.sync",
        measure: `${quantileName === "p50Ms" ? "p50" : "p99"}, concurrency ${connections}${failureNote}`,
        product: ms(product[quantileName]),
        frameworkFloor: ms(framework[quantileName]),
        floor: ms(floor[quantileName]),
        ratio: `${times(ratio)} floor, ${times(frameworkRatio)} framework`,
        goal: "≤ 1.5× floor, ≤ 1.2× framework",
        met: ratio <= 1.5 && frameworkRatio <= 1.2,
      });
    }
    const throughputRatio = product.requestsPerSecond / floor.requestsPerSecond;
    rows.push({
      part: "P3 user.sync",
      measure: `throughput, concurrency ${connections}${failureNote}`,
      product: perSecond(product.requestsPerSecond),
      frameworkFloor: perSecond(framework.requestsPerSecond),
      floor: perSecond(floor.requestsPerSecond),
      ratio: `${times(throughputRatio)} floor, ${times(product.requestsPerSecond / framework.requestsPerSecond)} framework`,
      goal: "—",
      met: null,
    });
  }
  // The Clerk stand-in alone (the GET every sync makes, floor and product alike): its own ceiling
  // on this machine, so a floor that cannot go faster is not mistaken for a fast product.
  const highest = Math.max(...options.concurrencies);
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
      `P3: ${users.length} distinct users, ${options.rounds} rounds × ${options.durationSeconds} s per variant and concurrency, medians; Clerk latency added by the emulator: ${options.clerkLatencyMs} ms. Ratios are product ÷ bare floor and product ÷ framework floor (the product's own share). The Clerk stand-in alone (GET /v1/users/:id, concurrency ${highest}, one run): ${clerkAlone.requestsPerSecond} req/s, p50 ${clerkAlone.p50Ms} ms.`,
    ],
  };
}
