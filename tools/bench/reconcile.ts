/**
 * `npm run bench:reconcile [-- --users 1000000 --baseline-users 10000]`
 *
 * Seeds Clerk with N users and reconciles them into a fresh database on the real PostgreSQL
 * server from empty, then again after 1% drift in the mirror (stale rows, missing rows, rows
 * Clerk never had), each run a full apply with the app's statement timeout
 * (`DATABASE_STATEMENT_TIMEOUT_MS`, default 5000: a statement over it fails the run); then
 * compares with a one-user-per-round-trip loop through the single-row write path (as it runs by
 * default, and with the reconciler's synchronous_commit=off). Prints wall time, users/s on the
 * database side, Clerk requests, database round trips, the longest single statement, peak RSS
 * and the live heap over the walk; writes the raw figures to `.bench/`.
 *
 * Clerk: the tests' user directory (Clerk's list rules: `starting_after`, `limit` ≤ 500, offsets
 * past 10,000 users time out and each 1,000 skipped costs 1 ms) over HTTP in a process of its
 * own (tools/bench/clerk-directory-server.ts); the reconciler calls it with the plugin's own client.
 * PostgreSQL: `BENCH_DATABASE_URL` (an admin URL), else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

import Table from "cli-table3";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

import * as schema from "~/server/db/schema";
import type { ReconcileReport } from "clerk-user-sync/server";
import { createClerkBackendApi, runReconcile, snapshotFromUserJson, syncedTableOf, upsertClerkUser, type ClerkBudget } from "clerk-user-sync/server/advanced";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "100000" },
    "baseline-users": { type: "string" },
  },
  strict: true,
});
const userCount = Number(args.users);
const baselineCount = Math.min(userCount, Number(args["baseline-users"] ?? 10_000));
if (!Number.isInteger(userCount) || userCount < 1 || !Number.isInteger(baselineCount) || baselineCount < 1) {
  throw new Error("--users and --baseline-users must be positive integers");
}

const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const databaseName = `user_sync_bench_${process.pid}`;
const statementTimeoutMs = Number(process.env.DATABASE_STATEMENT_TIMEOUT_MS ?? 5000);
/** Clerk's offsets: past this many users a page times out (the directory's default, like the emulator's). */
const offsetTimeoutDepth = 10_000;

/** The directory in a process of its own, seeded with `users` users. */
async function startClerk(users: number) {
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=4096", "--import", "tsx", path.resolve("tools/bench/clerk-directory-server.ts"), String(users), String(offsetTimeoutDepth), "1"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = readline.createInterface({ input: child.stdout });
  const [line] = (await once(lines, "line")) as [string];
  const started = JSON.parse(line) as { url: string; secretKey: string; instanceId: string; seedMs: number };
  return {
    ...started,
    close: async () => {
      child.stdin.end();
      await once(child, "exit");
    },
  };
}

// The live heap (after a full collection), so figures are not whatever garbage was pending.
v8.setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;
const liveHeapMb = () => {
  collectGarbage();
  return round(process.memoryUsage().heapUsed / 2 ** 20);
};

/** Peak memory, sampled every 20 ms and at every progress report. */
function memoryMeter() {
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  const sample = () => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  };
  const timer = setInterval(sample, 20);
  return {
    sample,
    stop() {
      clearInterval(timer);
      sample();
      return {
        peakRssMb: round(peakRss / 2 ** 20),
        peakHeapMb: round(peakHeap / 2 ** 20),
        heapGrowthMb: round((peakHeap - baseline.heapUsed) / 2 ** 20),
      };
    },
  };
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The benchmark measures the database side: Clerk's own limit is not what is being timed. */
const unlimitedBudget: ClerkBudget = { acquire: async () => true, pause: async () => undefined };

async function main() {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin.unsafe(`create database ${databaseName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  let roundTrips = 0;
  // The app's pool and timeouts: every statement of a run must finish within statement_timeout.
  const client = postgres(url.toString(), {
    max: 10,
    onnotice: () => undefined,
    debug: () => void roundTrips++,
    connection: { statement_timeout: statementTimeoutMs, idle_in_transaction_session_timeout: statementTimeoutMs },
  });
  const db = drizzle({ client, schema });
  await migrate(db, { migrationsFolder: path.resolve("drizzle") });

  const clerkServer = await startClerk(userCount);
  const clerk = { secretKey: clerkServer.secretKey, apiUrl: clerkServer.url };
  const table = syncedTableOf(schema.users);
  // The live heap each time another tenth of the users has been walked.
  const heapSteps = 10;

  async function reconcilePass(label: string) {
    const startedRoundTrips = roundTrips;
    const heapAt: { walked: number; liveHeapMb: number }[] = [{ walked: 0, liveHeapMb: liveHeapMb() }];
    const meter = memoryMeter();
    const startedAt = performance.now();
    const report: ReconcileReport = await runReconcile({
      db,
      users: schema.users,
      clerk,
      instanceId: clerkServer.instanceId,
      budget: unlimitedBudget,
      dryRun: false,
      // The drift pass tombstones 0.3% of the rows: under the default guard's 2%.
      mode: "full",
      onProgress: (p) => {
        meter.sample();
        if (p.phase === "walk" && p.walked >= (userCount * heapAt.length) / heapSteps && heapAt.length <= heapSteps) {
          heapAt.push({ walked: p.walked, liveHeapMb: liveHeapMb() });
        }
      },
    });
    const wallMs = performance.now() - startedAt;
    return {
      label,
      users: userCount,
      counts: report.counts,
      wallMs: Math.round(wallMs),
      databaseMs: report.timings.databaseMs,
      clerkMs: report.timings.clerkMs,
      longestStatementMs: report.timings.longestDatabaseCallMs,
      usersPerSecondWall: Math.round(userCount / (wallMs / 1000)),
      usersPerSecondDatabase: Math.round(userCount / (report.timings.databaseMs / 1000)),
      clerkRequests: report.clerkRequests,
      databaseRoundTrips: roundTrips - startedRoundTrips,
      memory: { ...meter.stop(), liveHeapMbByWalked: heapAt },
    };
  }

  const fromEmpty = await reconcilePass("from empty");

  // 1% drift: 0.4% stale (older clock, another name), 0.3% missing, 0.3% rows Clerk never had.
  const onePercent = Math.max(3, Math.round(userCount / 100));
  const stale = Math.round((onePercent * 4) / 10);
  const missing = Math.round((onePercent * 3) / 10);
  const extra = onePercent - stale - missing;
  // Set up in batches too (the benchmark's own statements under the same timeout).
  await client`update users set last_name = 'drifted', clerk_updated_at = clerk_updated_at - 1
    where id in (select id from users order by id limit ${stale})`;
  await client`delete from users where id in (select id from users order by id desc limit ${missing})`;
  await client`insert into users (id, email, clerk_updated_at)
    select 'user_bench_extra_' || g, 'extra' || g || '@example.com', 1 from generate_series(1, ${extra}) as g`;
  // A mirror of this size in production has statistics (autovacuum); the benchmark does not wait for them.
  await client`vacuum analyze users`;
  const withDrift = await reconcilePass("1% drift");

  // Baselines: the same users from the same Clerk pages, one write-path statement per user;
  // once as it runs by default (every statement waits for its WAL flush) and once with the
  // reconciler's durability (no flush wait), so the ratio shows what batching alone buys.
  const api = createClerkBackendApi(clerk, { timeoutMs: 30_000 });
  async function baselinePass(label: string, asyncCommit: boolean) {
    await client`truncate users`;
    const baselineClient = postgres(url.toString(), {
      max: 1,
      onnotice: () => undefined,
      debug: () => void roundTrips++,
      ...(asyncCommit ? { connection: { synchronous_commit: "off" } } : {}),
    });
    const baselineDb = drizzle({ client: baselineClient, schema });
    const startedRoundTrips = roundTrips;
    const meter = memoryMeter();
    let databaseMs = 0;
    let clerkRequests = 0;
    const startedAt = performance.now();
    let cursor: string | undefined;
    for (let walked = 0; walked < baselineCount; ) {
      const page = await api.listUsers({ limit: Math.min(500, baselineCount - walked), order_by: "+created_at", starting_after: cursor });
      clerkRequests += 1;
      if (!page.length) break;
      for (const user of page) {
        const snapshot = snapshotFromUserJson(user);
        const started = performance.now();
        await upsertClerkUser(baselineDb, table, snapshot, "fetched");
        databaseMs += performance.now() - started;
      }
      walked += page.length;
      cursor = (page.at(-1) as { id: string }).id;
    }
    const wallMs = performance.now() - startedAt;
    await baselineClient.end({ timeout: 5 });
    return {
      label,
      users: baselineCount,
      wallMs: Math.round(wallMs),
      databaseMs: Math.round(databaseMs),
      usersPerSecondWall: Math.round(baselineCount / (wallMs / 1000)),
      usersPerSecondDatabase: Math.round(baselineCount / (databaseMs / 1000)),
      clerkRequests,
      databaseRoundTrips: roundTrips - startedRoundTrips,
      memory: meter.stop(),
    };
  }
  const baseline = await baselinePass("baseline: one user per round trip", false);
  const baselineAsync = await baselinePass("… same, synchronous_commit off", true);

  const ratio = round(fromEmpty.usersPerSecondDatabase / baseline.usersPerSecondDatabase);
  const ratioAsync = round(fromEmpty.usersPerSecondDatabase / baselineAsync.usersPerSecondDatabase);
  const heaps = (run: typeof fromEmpty) => run.memory.liveHeapMbByWalked.map((step) => step.liveHeapMb);
  // Flat: the live heap at the end of the walk is within 10% (or 5 MB) of where it stood at the first tenth.
  const flat = (run: typeof fromEmpty) => {
    const [, first] = heaps(run);
    const last = heaps(run).at(-1)!;
    return first === undefined || last - first <= Math.max(5, first * 0.1);
  };
  const longestStatementMs = Math.max(fromEmpty.longestStatementMs, withDrift.longestStatementMs);
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    postgres: (await client<{ server_version: string }[]>`show server_version`)[0]?.server_version,
    users: userCount,
    statementTimeoutMs,
    offsetTimeoutDepth,
    seedMs: Math.round(clerkServer.seedMs),
    runs: [fromEmpty, withDrift],
    baseline,
    baselineAsync,
    ratioDatabaseSide: ratio,
    ratioDatabaseSideSameDurability: ratioAsync,
    goals: {
      finished: true,
      databaseUsersPerSecondAtLeast20000: fromEmpty.usersPerSecondDatabase >= 20_000,
      longestStatementUnder1s: longestStatementMs < 1_000,
      memoryFlat: flat(fromEmpty) && flat(withDrift),
    },
  };

  const table1 = new Table({
    head: ["", "users", "wall s", "users/s (database)", "users/s (wall)", "Clerk requests", "DB round trips", "longest statement ms", "peak RSS MB", "peak heap MB", "changes"],
    style: process.stdout.isTTY ? {} : { head: [], border: [] },
  });
  for (const run of [fromEmpty, withDrift]) {
    table1.push([
      run.label,
      run.users,
      round(run.wallMs / 1000),
      run.usersPerSecondDatabase,
      run.usersPerSecondWall,
      run.clerkRequests,
      run.databaseRoundTrips,
      run.longestStatementMs,
      run.memory.peakRssMb,
      run.memory.peakHeapMb,
      `${run.counts.missing} missing, ${run.counts.stale} stale, ${run.counts.deleted} deleted`,
    ]);
  }
  for (const run of [baseline, baselineAsync]) {
    table1.push([
      run.label,
      run.users,
      round(run.wallMs / 1000),
      run.usersPerSecondDatabase,
      run.usersPerSecondWall,
      run.clerkRequests,
      run.databaseRoundTrips,
      "",
      run.memory.peakRssMb,
      run.memory.peakHeapMb,
      "",
    ]);
  }
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  process.stdout.write(`${table1.toString()}\n`);
  process.stdout.write(
    `database side: ${fromEmpty.usersPerSecondDatabase} users/s from empty, ${ratio}× the one-user-per-round-trip baseline ` +
      `(${ratioAsync}× with the same synchronous_commit)\n` +
      `longest statement: ${longestStatementMs} ms (statement_timeout ${statementTimeoutMs} ms; Clerk's offsets time out past ${offsetTimeoutDepth} users)\n` +
      `live heap (after GC) at each tenth of the walk: from empty ${heaps(fromEmpty).join(" / ")} MB; with drift ${heaps(withDrift).join(" / ")} MB\n` +
      `goals: finishes met, ≥ 20000 users/s ${met(result.goals.databaseUsersPerSecondAtLeast20000)}, longest statement < 1 s ${met(result.goals.longestStatementUnder1s)}, memory flat ${met(result.goals.memoryFlat)}\n`,
  );
  fs.mkdirSync(".bench", { recursive: true });
  const file = path.join(".bench", `reconcile-${userCount}-${result.at.replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`raw figures: ${file}\n`);

  await clerkServer.close();
  await client.end({ timeout: 5 });
  await admin.unsafe(`drop database if exists ${databaseName} with (force)`);
  await admin.end();
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:reconcile failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
