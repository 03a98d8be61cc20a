/**
 * What every benchmark part runs against: a fresh PostgreSQL database migrated from `drizzle/`,
 * the Clerk emulator in a process of its own, a production build of the app served by
 * `next start`, the bare floor (`floors/bare-floor.ts`) and the raw floor (`floors/raw-floor.ts`).
 * With a baseline (`--baseline <git-ref>`), a second app built from that ref in its own git
 * worktree (`baseline.ts`) on its own port and database, beside the first. Ports and names come
 * from BENCH_APP_PORT (3420; the baseline's is +10), BENCH_CLERK_EMULATOR_PORT (4420),
 * BENCH_FLOOR_PORT (3421), BENCH_RAW_FLOOR_PORT (3422), BENCH_DATABASE_URL
 * (postgres://postgres@127.0.0.1:5432/user_sync_bench; the baseline's gets `_baseline`),
 * BENCH_DIST_DIR (.next-bench-start; `bench:first-sync` uses `.next-bench` for its `next dev`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { clerkEmulatorAppEnv, ClerkEmulatorControl, loadIdentity, type EmulatorIdentity } from "clerk-user-sync-emulator";
import postgres from "postgres";

import { recreateDatabase } from "../../../e2e/support/database";

export type StackOptions = {
  /** Rebuild even when the build folder matches the sources. */
  rebuild: boolean;
  /** Start the app with `node --cpu-prof`, profiles into `.bench/profiles/`. */
  cpuProfile: boolean;
  /** Progress lines (the build). */
  progress: (line: string) => void;
  /** The servers' own output. */
  log: (line: string) => void;
  /** A checkout of the baseline build (`prepareBaseline`), served beside the current one. */
  baseline?: { dir: string; label: string };
};

/** The app built from the baseline ref, on its own port and database. */
export type BaselineApp = { appUrl: string; label: string; distDir: string };

export type Stack = {
  appUrl: string;
  floorUrl: string;
  rawFloorUrl: string;
  baseline: BaselineApp | null;
  emulator: ClerkEmulatorControl;
  identity: EmulatorIdentity;
  distDir: string;
  /** The app's database (admin rights: the bench adds and drops its own trigger). */
  sql: postgres.Sql;
  /** What the app runs with, for the report. */
  appSettings: Record<string, string>;
  close: () => Promise<void>;
};

const appPort = Number(process.env.BENCH_APP_PORT ?? 3420);
const emulatorPort = Number(process.env.BENCH_CLERK_EMULATOR_PORT ?? 4420);
const floorPort = Number(process.env.BENCH_FLOOR_PORT ?? 3421);
const rawFloorPort = Number(process.env.BENCH_RAW_FLOOR_PORT ?? 3422);
const baselineAppPort = appPort + 10;
const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/user_sync_bench";
const distDir = process.env.BENCH_DIST_DIR ?? ".next-bench-start";
const stateDir = process.env.CLERK_EMULATOR_STATE_DIR ?? ".clerk-emulator";
export const profileDir = path.resolve(".bench/profiles");

/** The contents of the files a build depends on (tracked or new, as they are on disk) plus the inlined env. */
function buildFingerprint(publicEnv: Record<string, string>, cwd: string): string {
  const paths = ["src", "public", "next.config.mjs", "package-lock.json", "tsconfig.json", "postcss.config.js"];
  const listed = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "--", ...paths], { cwd, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const hash = createHash("sha256");
  for (const file of listed.stdout.split("\n").filter(Boolean).sort()) {
    const absolute = path.join(cwd, file);
    if (fs.existsSync(absolute)) hash.update(file).update(fs.readFileSync(absolute));
  }
  hash.update(JSON.stringify(publicEnv));
  return hash.digest("hex");
}

function waitForExit(child: ChildProcess) {
  return new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Resolves when `url` answers at all (any status), or rejects after `timeoutMs` or when `child` exits. */
async function waitForUrl(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void waitForExit(child).then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${url}: the server exited before answering`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Starts a process in its own group (so its children stop with it), logging its output with a prefix. */
function start(command: string, args: string[], env: Record<string, string>, log: (line: string) => void, label: string, cwd?: string) {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) log(`[${label}] ${line}`);
    });
  }
  return child;
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = waitForExit(child);
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** Brings the whole stack up; `close()` stops what it started and leaves the database for inspection. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const appUrl = `http://localhost:${appPort}`;
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const child of children.reverse()) await stop(child);
  };
  try {
    await recreateDatabase(databaseUrl, path.resolve("drizzle"));
    const sql = postgres(databaseUrl, { max: 2, onnotice: () => undefined });
    const identity = loadIdentity(stateDir);
    const clerkEnv = clerkEmulatorAppEnv({ port: emulatorPort, appUrl, stateDir });
    const appSettings = {
      USER_SYNC_COOLDOWN_SECONDS: "0",
      USER_SYNC_CLERK_REQUESTS_PER_10S: "1000000",
      BENCH_FRAMEWORK_FLOOR: "true",
    };
    const appEnv = {
      ...clerkEnv,
      ...appSettings,
      DATABASE_URL: databaseUrl,
      NEXT_DIST_DIR: distDir,
      APP_URL: appUrl,
      NEXT_TELEMETRY_DISABLED: "1",
      NODE_ENV: "production",
    };

    const emulatorProcess = start(
      "npx",
      ["tsx", "packages/clerk-emulator/src/cli.ts"],
      {
        CLERK_EMULATOR_PORT: String(emulatorPort),
        CLERK_EMULATOR_APP_URL: appUrl,
        CLERK_EMULATOR_STATE_DIR: stateDir,
        CLERK_EMULATOR_RATE_LIMITS: "off",
        CLERK_EMULATOR_QUIET: "1",
      },
      options.log,
      "clerk-emulator",
    );
    children.push(emulatorProcess);

    const app = await buildAndStart({ cwd: process.cwd(), env: appEnv, port: appPort, label: "next start", options });
    children.push(app);
    let baseline: (BaselineApp & { process: ChildProcess }) | null = null;
    if (options.baseline) {
      const baselineUrl = `http://localhost:${baselineAppPort}`;
      const baselineDatabaseUrl = withDatabaseSuffix(databaseUrl, "_baseline");
      await recreateDatabase(baselineDatabaseUrl, path.join(options.baseline.dir, "drizzle"));
      // The same APP_URL (clerkMiddleware's authorized party), so one session token serves both builds.
      const env = { ...appEnv, DATABASE_URL: baselineDatabaseUrl };
      const started = await buildAndStart({ cwd: options.baseline.dir, env, port: baselineAppPort, label: `baseline ${options.baseline.label}`, options: { ...options, cpuProfile: false } });
      children.push(started);
      baseline = { appUrl: baselineUrl, label: options.baseline.label, distDir: path.join(options.baseline.dir, distDir), process: started };
    }
    const floor = start(
      process.execPath,
      ["--conditions=react-server", "--import", "tsx", "tools/bench/floors/bare-floor.ts"],
      { ...appEnv, BENCH_FLOOR_PORT: String(floorPort) },
      options.log,
      "bare floor",
    );
    children.push(floor);
    const rawFloor = start(process.execPath, ["--import", "tsx", "tools/bench/floors/raw-floor.ts"], { ...appEnv, BENCH_RAW_FLOOR_PORT: String(rawFloorPort) }, options.log, "raw floor");
    children.push(rawFloor);

    await waitForUrl(`http://localhost:${emulatorPort}/__control/health`, emulatorProcess, 120_000);
    await waitForUrl(appUrl, app, 120_000);
    await waitForUrl(`http://localhost:${floorPort}/`, floor, 60_000);
    await waitForUrl(`http://localhost:${rawFloorPort}/`, rawFloor, 60_000);
    if (baseline) await waitForUrl(baseline.appUrl, baseline.process, 120_000);
    const emulator = new ClerkEmulatorControl(`http://localhost:${emulatorPort}`);
    return {
      appUrl,
      floorUrl: `http://localhost:${floorPort}`,
      rawFloorUrl: `http://localhost:${rawFloorPort}`,
      baseline: baseline && { appUrl: baseline.appUrl, label: baseline.label, distDir: baseline.distDir },
      emulator,
      identity,
      distDir,
      sql,
      appSettings,
      close: async () => {
        await close();
        await sql.end({ timeout: 5 });
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function withDatabaseSuffix(url: string, suffix: string) {
  const parsed = new URL(url);
  parsed.pathname = `${parsed.pathname}${suffix}`;
  return parsed.toString();
}

/** `next build` in `cwd` unless its build folder matches its sources, then `next start` on `port`. */
async function buildAndStart(app: { cwd: string; env: Record<string, string>; port: number; label: string; options: StackOptions }): Promise<ChildProcess> {
  const { cwd, env, options } = app;
  const publicEnv = Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith("NEXT_PUBLIC_")));
  const fingerprint = buildFingerprint(publicEnv, cwd);
  const buildDir = path.join(cwd, distDir);
  const stampFile = path.join(buildDir, "bench-build-fingerprint");
  const upToDate = fs.existsSync(path.join(buildDir, "BUILD_ID")) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, "utf8") === fingerprint;
  if (options.rebuild || !upToDate) {
    options.progress(`${app.label}: building into ${buildDir} (next build) …`);
    const build = start("npx", ["next", "build"], env, () => undefined, "next build", cwd);
    let output = "";
    build.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    build.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    if ((await waitForExit(build)) !== 0) throw new Error(`${app.label}: next build failed:\n${output}`);
    fs.writeFileSync(stampFile, fingerprint);
  } else {
    options.progress(`${app.label}: ${buildDir} matches the sources: not rebuilt (--rebuild forces it)`);
  }
  if (options.cpuProfile) fs.mkdirSync(profileDir, { recursive: true });
  // Node refuses --cpu-prof in NODE_OPTIONS, so next's CLI runs under node directly.
  return start(
    process.execPath,
    [...(options.cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), "node_modules/next/dist/bin/next", "start", "-p", String(app.port)],
    env,
    options.log,
    app.label,
    cwd,
  );
}
