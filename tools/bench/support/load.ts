/**
 * Load through autocannon, with latencies kept at full resolution (autocannon's own histogram
 * rounds to whole milliseconds, too coarse for a 1 ms floor), and the arithmetic every part
 * shares: medians over rounds, ratios, rounding.
 */
import autocannon from "autocannon";

export type LoadRequest = { method: "GET" | "POST"; path: string; headers: Record<string, string>; body?: string };

export type LoadOptions = {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationSeconds?: number;
  /** Exactly this many requests (a burst: `amount === connections`). */
  amount?: number;
  /** Builds each request (a fresh token, svix-id, signature…). */
  next: () => LoadRequest;
};

export type LoadFigures = {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requestsPerSecond: number;
  durationSeconds: number;
};

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The value at quantile `q` (0–1) of already sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One autocannon run; latencies of 2xx answers only, like autocannon's own. */
export async function load(options: LoadOptions): Promise<LoadFigures> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...(options.amount === undefined ? { duration: options.durationSeconds ?? 5 } : { amount: options.amount }),
        timeout: 30,
        requests: [{ setupRequest: (request) => ({ ...request, ...options.next() }) }],
      },
      (error, finished) => (error ? reject(error as Error) : resolve(finished)),
    );
    instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    });
  });
  latencies.sort((a, b) => a - b);
  const completed = latencies.length + result.non2xx;
  return {
    requests: completed,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50Ms: round(quantile(latencies, 0.5), 2),
    p99Ms: round(quantile(latencies, 0.99), 2),
    meanMs: round(latencies.reduce((sum, v) => sum + v, 0) / Math.max(1, latencies.length), 2),
    requestsPerSecond: round(latencies.length / Math.max(result.duration, 0.001)),
    durationSeconds: round(result.duration, 2),
  };
}

/** `rounds` rounds; in each, every variant runs once, the order rotating so none always goes first. */
export async function alternate<TName extends string>(
  rounds: number,
  variants: readonly TName[],
  run: (variant: TName, round: number) => Promise<LoadFigures>,
): Promise<Record<TName, LoadFigures[]>> {
  const results = Object.fromEntries(variants.map((v) => [v, [] as LoadFigures[]])) as Record<TName, LoadFigures[]>;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + r) % variants.length]!;
      results[variant].push(await run(variant, r));
    }
  }
  return results;
}

/** Medians over rounds of each figure; failures are summed, not medianed. */
export function summarize(runs: readonly LoadFigures[]) {
  return {
    p50Ms: round(median(runs.map((r) => r.p50Ms)), 2),
    p99Ms: round(median(runs.map((r) => r.p99Ms)), 2),
    requestsPerSecond: round(median(runs.map((r) => r.requestsPerSecond))),
    requests: runs.reduce((sum, r) => sum + r.requests, 0),
    failed: runs.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
  };
}

export type Summary = ReturnType<typeof summarize>;
