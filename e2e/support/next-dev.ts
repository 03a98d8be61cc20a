import { spawn } from "node:child_process";
import path from "node:path";

import { expect } from "@playwright/test";

import { e2eAppEnv } from "./app-env";

/**
 * `next dev` on `port` with the e2e app's env (it writes to `<distDir>/dev`, beside the
 * production build the other journeys use), answered once its first page does; `routes` are
 * requested next so they compile before the journey, as `npm run demo` does (signed out they
 * redirect or answer 401, after compiling). `stop` ends its whole process group.
 */
export async function startNextDev(port: number, routes: string[]) {
  const dev = spawn(path.resolve("node_modules/.bin/next"), ["dev", "-p", String(port)], {
    env: { ...process.env, ...e2eAppEnv({ PORT: String(port) }) },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so `stop` ends exactly what it started.
    detached: true,
  });
  const output: string[] = [];
  dev.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  dev.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const stop = () => {
    if (dev.pid !== undefined && dev.exitCode === null) process.kill(-dev.pid, "SIGTERM");
  };
  const url = `http://localhost:${port}`;
  try {
    await expect
      .poll(async () => (await fetch(url, { signal: AbortSignal.timeout(60_000) }).catch(() => null))?.status, { timeout: 150_000, message: output.join("").slice(-2000) })
      .toBe(200);
    for (const route of routes) await fetch(`${url}${route}`, { redirect: "manual", signal: AbortSignal.timeout(120_000) });
  } catch (error) {
    stop();
    throw error;
  }
  return { url, stop };
}
