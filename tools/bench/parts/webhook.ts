/**
 * P5: signed `user.updated` deliveries, the product's `/api/webhooks/clerk` against the bare
 * floor's `POST /webhook` (standardwebhooks verify, the plugin's upsert and inbox row in one
 * transaction) and the raw floor's (the same verify, then one plain statement: inbox row and
 * guarded upsert), and with `--baseline` the baseline build's product, alternating: throughput
 * at concurrency 32, and a burst of 200 concurrent deliveries (p99). Every delivery has its own svix-id and a newer Clerk clock than any before
 * it, so each one applies (no duplicate or stale shortcut).
 */
import { Webhook } from "standardwebhooks";

import { alternate, load, summarize, type LoadFigures, type LoadRequest, type Summary } from "../support/load";
import { ms, perSecond, times, type PartResult } from "../support/report";
import type { Stack } from "../support/stack";
import { benchUsers } from "../support/users";

export type WebhookOptions = { rounds: number; durationSeconds: number; users: number; concurrency: number; burst: number };

type Variant = "product" | "floor" | "rawFloor" | "beforeProduct";

export async function benchWebhook(stack: Stack, options: WebhookOptions): Promise<PartResult> {
  const users = await benchUsers(stack, options.users);
  const signer = new Webhook(stack.identity.webhookSigningSecret);
  const targets: Partial<Record<Variant, { url: string; path: string }>> = {
    product: { url: stack.appUrl, path: "/api/webhooks/clerk" },
    floor: { url: stack.floorUrl, path: "/webhook" },
    rawFloor: { url: stack.rawFloorUrl, path: "/webhook" },
    ...(stack.baseline ? { beforeProduct: { url: stack.baseline.appUrl, path: "/api/webhooks/clerk" } } : {}),
  };
  const variants = Object.keys(targets) as Variant[];
  // Clerk's clock for the next delivery: ahead of every user's stored clock, one millisecond per delivery.
  // (Sign-ins in P3 move clocks to the emulator's now, hence now as well.)
  let clockMs = Math.max(Date.now(), ...users.map((user) => user.updated_at)) + 1;
  let sequence = 0;
  const requestFor = (variant: Variant) => (): LoadRequest => {
    const user = users[sequence % users.length]!;
    const svixId = `msg_bench_${process.pid}_${sequence++}`;
    const now = new Date();
    const body = JSON.stringify({
      data: { ...user, first_name: `Bench ${sequence}`, updated_at: clockMs++ },
      event_attributes: { http_request: { client_ip: "127.0.0.1", user_agent: "bench" } },
      instance_id: stack.identity.instanceId,
      object: "event",
      timestamp: now.getTime(),
      type: "user.updated",
    });
    return {
      method: "POST",
      path: targets[variant]!.path,
      headers: {
        "content-type": "application/json",
        "svix-id": svixId,
        "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
        "svix-signature": signer.sign(svixId, now, body),
      },
      body,
    };
  };

  for (const variant of variants) await load({ url: targets[variant]!.url, connections: 8, durationSeconds: Math.min(2, options.durationSeconds), next: requestFor(variant) });

  const throughputRuns = await alternate(options.rounds, variants, (variant) =>
    load({ url: targets[variant]!.url, connections: options.concurrency, durationSeconds: options.durationSeconds, next: requestFor(variant) }),
  );
  const burstRuns = await alternate(options.rounds, variants, (variant) =>
    load({ url: targets[variant]!.url, connections: options.burst, amount: options.burst, next: requestFor(variant) }),
  );
  const medians = (runs: Record<Variant, LoadFigures[]>) =>
    Object.fromEntries(variants.map((variant) => [variant, summarize(runs[variant])])) as Record<"product" | "floor" | "rawFloor", Summary> & { beforeProduct?: Summary };
  const throughput = medians(throughputRuns);
  const burst = medians(burstRuns);
  const failed = (figures: Record<string, Summary>) => {
    const failing = Object.entries(figures).filter(([, summary]) => summary.failed > 0);
    return failing.length > 0 ? ` (failed: ${failing.map(([variant, summary]) => `${variant} ${summary.failed}`).join(", ")})` : "";
  };
  const before = (figures: typeof throughput, format: (summary: Summary) => string) =>
    figures.beforeProduct ? { before: { product: format(figures.beforeProduct), frameworkFloor: "—", peer: "—" } } : {};
  const rawRatio = throughput.product.requestsPerSecond / throughput.rawFloor.requestsPerSecond;
  return {
    rows: [
      {
        part: "P5 webhooks",
        measure: `throughput, concurrency ${options.concurrency}${failed(throughput)}`,
        ...before(throughput, (summary) => perSecond(summary.requestsPerSecond)),
        product: perSecond(throughput.product.requestsPerSecond),
        frameworkFloor: "—",
        floor: perSecond(throughput.floor.requestsPerSecond),
        rawFloor: perSecond(throughput.rawFloor.requestsPerSecond),
        ratio: `${times(rawRatio)} raw floor, ${times(throughput.product.requestsPerSecond / throughput.floor.requestsPerSecond)} bare floor`,
        goal: "≥ 0.8× raw floor",
        met: rawRatio >= 0.8,
      },
      {
        part: "P5 webhooks",
        measure: `p50, concurrency ${options.concurrency}`,
        ...before(throughput, (summary) => ms(summary.p50Ms)),
        product: ms(throughput.product.p50Ms),
        frameworkFloor: "—",
        floor: ms(throughput.floor.p50Ms),
        rawFloor: ms(throughput.rawFloor.p50Ms),
        ratio: `${times(throughput.product.p50Ms / throughput.rawFloor.p50Ms)} raw floor`,
        goal: "—",
        met: null,
      },
      {
        part: "P5 webhooks",
        measure: `burst of ${options.burst}, p99${failed(burst)}`,
        ...before(burst, (summary) => ms(summary.p99Ms)),
        product: ms(burst.product.p99Ms),
        frameworkFloor: "—",
        floor: ms(burst.floor.p99Ms),
        rawFloor: ms(burst.rawFloor.p99Ms),
        ratio: `${times(burst.product.p99Ms / burst.rawFloor.p99Ms)} raw floor`,
        goal: "< 1000 ms",
        met: burst.product.p99Ms < 1000 && burst.product.failed === 0,
      },
    ],
    raw: { users: users.length, rounds: options.rounds, throughput: { runs: throughputRuns, medians: throughput }, burst: { runs: burstRuns, medians: burst } },
    notes: [
      `P5: signed user.updated deliveries (a new svix-id and a newer clock each) over ${users.length} users; ${options.rounds} rounds, throughput ${options.durationSeconds} s per variant, medians.`,
    ],
  };
}
