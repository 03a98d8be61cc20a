/**
 * The before/after driver of issue 13's optimisation: closed-loop load at a fixed concurrency
 * against a running production server (`next start`) wired to a Clerk emulator, for
 * `user.sync` (signed session tokens, one user per request slot) and for signed `user.updated`
 * webhook deliveries (a fresh svix-id and a newer Clerk clock each), plus a burst of
 * concurrent deliveries. Prints one JSON line per run: p50/p99 ms, requests/s, non-2xx count.
 * Not the benchmark harness (`npm run bench`): a small tool to compare two builds on one machine.
 *
 * npx tsx src/bench/sync-webhook-load.ts --app http://localhost:3500 --state .bench/clerk-emulator-perf \
 *   --emulator http://localhost:4501 --part sync --concurrency 64 --seconds 10
 * (`--part webhook`, or `--part burst --requests 200`; `--pid <next-server pid> --database <name>` add
 * the server's and the database backends' CPU ms per request, which a busy machine distorts less).
 */
import fs from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";

import postgres from "postgres";
import { Webhook } from "standardwebhooks";

import { ClerkEmulatorControl } from "~/clerk-emulator/control-client";
import { loadIdentity } from "~/clerk-emulator/identity";
import { signJwt } from "~/clerk-emulator/jwt";

const { values: args } = parseArgs({
  options: {
    app: { type: "string", default: "http://localhost:3500" },
    emulator: { type: "string", default: "http://localhost:4501" },
    state: { type: "string", default: ".bench/clerk-emulator-perf" },
    part: { type: "string", default: "sync" },
    concurrency: { type: "string", default: "1" },
    seconds: { type: "string", default: "10" },
    warmupSeconds: { type: "string", default: "3" },
    requests: { type: "string", default: "200" },
    users: { type: "string", default: "1000" },
    label: { type: "string", default: "" },
    /** The tRPC mutation `--part sync` calls (e.g. a no-op protected procedure, for the framework's own cost). */
    procedure: { type: "string", default: "user.sync" },
    /** The server's process id: its CPU time per request is reported (Linux /proc), robust to a busy machine. */
    pid: { type: "string" },
    /** The app's database: its PostgreSQL backends' CPU time per request is reported too. */
    database: { type: "string" },
  },
});

const appUrl = new URL(args.app);
const identity = loadIdentity(args.state);
const emulator = new ClerkEmulatorControl(args.emulator);
// Syncs use the first `--users` users, deliveries the next ones: a delivery's newer clock would
// turn later syncs of the same user into `stale` answers.
const seeded = (await emulator.users({ limit: 2 * Number(args.users) })).filter((user) => user.id.startsWith("user_"));
const half = Math.floor(seeded.length / 2);
const users = args.part === "sync" ? seeded.slice(0, half) : seeded.slice(half);
if (users.length === 0) throw new Error("The emulator has too few users: seed some with POST /__control/users/bulk");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

function post(path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: appUrl.hostname, port: appUrl.port, path, method: "POST", agent, headers: { "content-type": "application/json", ...headers } },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

const nowSeconds = Math.floor(Date.now() / 1000);
const tokens = users.map((user, index) =>
  signJwt(identity, {
    azp: args.app,
    exp: nowSeconds + 3600,
    iat: nowSeconds,
    iss: `https://${identity.frontendApi}`,
    nbf: nowSeconds - 10,
    sid: `sess_perf_${index}`,
    sts: "active",
    sub: user.id,
    v: 2,
  }),
);

let sequence = 0;
function syncRequest(slot: number) {
  const token = tokens[slot % tokens.length]!;
  return post(`/api/trpc/${args.procedure}`, { authorization: `Bearer ${token}` }, '{"json":{}}');
}

const webhook = new Webhook(identity.webhookSigningSecret);
const clockBaseMs = Date.now();
function webhookRequest(slot: number) {
  const n = sequence++;
  const user = users[slot % users.length]!;
  const body = JSON.stringify({
    type: "user.updated",
    object: "event",
    instance_id: identity.instanceId,
    timestamp: Date.now(),
    data: { ...user, first_name: `Load ${n}`, updated_at: clockBaseMs + n },
  });
  const id = `msg_perf_${process.pid}_${n}`;
  const at = new Date();
  return post(
    "/api/webhooks/clerk",
    { "svix-id": id, "svix-timestamp": String(Math.floor(at.getTime() / 1000)), "svix-signature": webhook.sign(id, at, body) },
    body,
  );
}

async function closedLoop(send: (slot: number) => Promise<number>, concurrency: number, seconds: number) {
  const latencies: number[] = [];
  let failures = 0;
  const endAt = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, slot) => {
      while (performance.now() < endAt) {
        const t0 = performance.now();
        const status = await send(slot);
        latencies.push(performance.now() - t0);
        if (status < 200 || status >= 300) failures++;
      }
    }),
  );
  return { latencies, failures, elapsedMs: performance.now() - startedAt };
}

function summary(latencies: number[], failures: number, elapsedMs: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    requests: sorted.length,
    failures,
    p50Ms: Number(at(0.5).toFixed(2)),
    p99Ms: Number(at(0.99).toFixed(2)),
    requestsPerSecond: Math.round((sorted.length / elapsedMs) * 1000),
  };
}

/** CPU time (ms) used so far by the server process and the database's backends (Linux clock ticks of 10 ms). */
const admin = args.database ? postgres(`postgres://postgres@127.0.0.1:5432/postgres`, { max: 1, onnotice: () => undefined }) : null;
async function cpuMs() {
  const ticks = (pid: number | string) => {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  const server = args.pid ? ticks(args.pid) * 10 : NaN;
  let database = NaN;
  if (admin) {
    const backends = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${args.database!}`;
    database = backends.reduce((sum, backend) => sum + ticks(backend.pid) * 10, 0);
  }
  return { server, database };
}

const concurrency = Number(args.concurrency);
let result;
let cpuBefore = await cpuMs();
if (args.part === "burst") {
  await closedLoop(webhookRequest, 8, Number(args.warmupSeconds));
  cpuBefore = await cpuMs();
  const count = Number(args.requests);
  const startedAt = performance.now();
  const latencies = await Promise.all(
    Array.from({ length: count }, async (_, slot) => {
      const t0 = performance.now();
      const status = await webhookRequest(slot);
      return { ms: performance.now() - t0, ok: status >= 200 && status < 300 };
    }),
  );
  result = summary(
    latencies.map((l) => l.ms),
    latencies.filter((l) => !l.ok).length,
    performance.now() - startedAt,
  );
} else {
  const send = args.part === "webhook" ? webhookRequest : syncRequest;
  if (args.part !== "webhook" && args.part !== "sync") throw new Error("--part is sync, webhook or burst");
  await closedLoop(send, concurrency, Number(args.warmupSeconds));
  cpuBefore = await cpuMs();
  const run = await closedLoop(send, concurrency, Number(args.seconds));
  result = summary(run.latencies, run.failures, run.elapsedMs);
}
const cpuAfter = await cpuMs();
const perRequest = (before: number, after: number) => (Number.isNaN(after) ? undefined : Number(((after - before) / result.requests).toFixed(2)));
console.log(
  JSON.stringify({
    label: args.label,
    part: args.part,
    concurrency: args.part === "burst" ? Number(args.requests) : concurrency,
    ...result,
    serverCpuMsPerRequest: perRequest(cpuBefore.server, cpuAfter.server),
    databaseCpuMsPerRequest: perRequest(cpuBefore.database, cpuAfter.database),
  }),
);
agent.destroy();
await admin?.end();
