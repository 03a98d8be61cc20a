/**
 * The second host app (`e2e/fixtures/t3-host`, a create-t3-app project with Clerk) adopting the
 * plugin as a stranger would: the plugin's `npm pack` tarball installed from a file, a production
 * build, `next start` on its own port and its own database, against the e2e run's Clerk emulator.
 * Everything happens in a copy under the OS's temp folder, so the repository's tools never see
 * the fixture's node_modules or build.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { clerkEmulatorAppEnv } from "clerk-user-sync-emulator";

import { recreateDatabase } from "./database";
import { appPort, databaseUrl, emulatorConfig } from "./settings";

const run = promisify(execFile);

export const t3HostPort = Number(process.env.E2E_T3_HOST_PORT ?? appPort + 10);
export const t3HostUrl = `http://localhost:${t3HostPort}`;

/** The fixture's own database, beside the e2e one (its name + `_t3_host`). */
export const t3HostDatabaseUrl = (() => {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname}_t3_host`;
  return url.toString();
})();

const fixtureDir = path.resolve("e2e/fixtures/t3-host");
const workDir = path.join(os.tmpdir(), `clerk-user-sync-t3-host-${t3HostPort}`);
const appDir = path.join(workDir, "app");

function t3HostEnv(): Record<string, string> {
  return {
    ...clerkEmulatorAppEnv(emulatorConfig),
    DATABASE_URL: t3HostDatabaseUrl,
    PORT: String(t3HostPort),
    NEXT_TELEMETRY_DISABLED: "1",
  };
}

async function step<T>(name: string, timings: Record<string, number>, action: () => Promise<T>) {
  const startedAtMs = Date.now();
  try {
    return await action();
  } finally {
    timings[name] = Date.now() - startedAtMs;
  }
}

/**
 * Packs the plugin, installs the tarball into a fresh copy of the fixture (npm's cache holds
 * every other package from the root install), builds it with `next build`, and gives it a new
 * database migrated from the fixture's own drizzle-kit migration. Returns each step's duration.
 */
export async function prepareT3Host() {
  const timings: Record<string, number> = {};
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  fs.cpSync(fixtureDir, appDir, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|\.next)([/\\]|$)/.test(source.slice(fixtureDir.length)),
  });
  // The package's build when its source changed (prepack would rebuild it every time).
  const packed = await step("pack", timings, async () => {
    await run(process.execPath, [path.resolve("src/user-sync/build.mjs")]);
    return run("npm", ["pack", "--workspace", "clerk-user-sync", "--pack-destination", workDir, "--json", "--ignore-scripts"], { maxBuffer: 16 * 1024 * 1024 });
  });
  const [tarball] = JSON.parse(packed.stdout) as { filename: string; size: number; entryCount: number }[];
  if (!tarball) throw new Error("npm pack produced no tarball");
  // The fixture depends on "file:../clerk-user-sync.tgz", as a host would on a downloaded release.
  fs.renameSync(path.join(workDir, tarball.filename), path.join(workDir, "clerk-user-sync.tgz"));
  await step("install", timings, () =>
    run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: appDir, maxBuffer: 16 * 1024 * 1024 }),
  );
  await step("database", timings, () => recreateDatabase(t3HostDatabaseUrl, path.join(fixtureDir, "drizzle")));
  await step("build", timings, () =>
    run(process.execPath, [path.join(appDir, "node_modules/next/dist/bin/next"), "build"], {
      cwd: appDir,
      env: { ...process.env, ...t3HostEnv() },
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  return { timings, tarball };
}

export type T3HostServer = { process: ChildProcess; output: string[]; stop: () => void };

/** `next start` of the fixture's build, in its own process group; resolves once it serves pages. */
export async function startT3Host(timeoutMs: number): Promise<T3HostServer> {
  const child = spawn(process.execPath, [path.join(appDir, "node_modules/next/dist/bin/next"), "start", "-p", String(t3HostPort)], {
    cwd: appDir,
    env: { ...process.env, ...t3HostEnv() },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`t3-host next start exited: ${output.join("").slice(-2000)}`);
    try {
      if ((await fetch(t3HostUrl)).ok) return { process: child, output, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  stop();
  throw new Error(`${t3HostUrl} did not start: ${output.join("").slice(-2000)}`);
}
