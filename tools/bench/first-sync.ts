/**
 * `npm run bench:first-sync`: the demo's first sync as a new user meets it. Starts `npm run demo`
 * from nothing (a new PGlite folder and a new `next dev` build folder, on ports of its own),
 * signs a demo user in with Chromium and prints the time from the dashboard's first render to
 * "synced", then an admin's first open of the console (`/admin/sync`: navigation to its data on
 * screen). Settings: BENCH_APP_PORT (3190), BENCH_CLERK_EMULATOR_PORT (4191), BENCH_USER_ID,
 * BENCH_ADMIN_USER_ID.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { chromium } from "@playwright/test";

import { chromiumArgs, chromiumPath } from "../../e2e/support/settings";

const appPort = Number(process.env.BENCH_APP_PORT ?? 3190);
const emulatorPort = Number(process.env.BENCH_CLERK_EMULATOR_PORT ?? 4191);
const userId = process.env.BENCH_USER_ID ?? "user_demo_ada";
const adminUserId = process.env.BENCH_ADMIN_USER_ID ?? "user_demo_margaret";
const dataDir = path.resolve(".data/bench-first-sync/pglite");
const distDir = ".next-bench";

function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs: number) {
  return new Promise<void>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      if (pattern.test(buffered)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function main() {
  fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  fs.rmSync(distDir, { recursive: true, force: true });
  const startedAtMs = Date.now();
  const demo = spawn("npx", ["tsx", "scripts/demo.ts"], {
    env: {
      ...process.env,
      PORT: String(appPort),
      CLERK_EMULATOR_PORT: String(emulatorPort),
      PGLITE_DATA_DIR: dataDir,
      NEXT_DIST_DIR: distDir,
    },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  demo.stdout.pipe(process.stderr);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  try {
    await waitForLine(demo.stdout, /\[demo\] Open http/, 300_000);
    const readyMs = Date.now() - startedAtMs;
    const page = await browser.newPage();
    // Where the time goes: the user.sync request's start and end, on the same clock.
    const sync: { sentAtMs?: number; answeredAtMs?: number } = {};
    page.on("request", (request) => {
      if (request.url().includes("/api/trpc/user.sync")) sync.sentAtMs ??= Date.now();
    });
    page.on("requestfinished", (request) => {
      if (request.url().includes("/api/trpc/user.sync")) sync.answeredAtMs ??= Date.now();
    });
    await page.goto(`http://localhost:${appPort}/`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`http://localhost:${emulatorPort}/sign-in**`);
    await page.locator(`button[data-user-id="${userId}"]`).click();
    await page.getByTestId("sync-status").waitFor({ state: "visible", timeout: 120_000 });
    const renderedAtMs = Date.now();
    await page.locator('[data-testid="sync-status"][data-status="synced"]').waitFor({ timeout: 120_000 });
    const firstSyncMs = Date.now() - renderedAtMs;
    console.log(`demo ready (prints "Open") after: ${readyMs} ms`);
    console.log(`first sign-in, dashboard rendered -> "synced": ${firstSyncMs} ms`);
    if (sync.sentAtMs !== undefined && sync.answeredAtMs !== undefined) {
      // Negative: sent before the dashboard's first render was seen.
      console.log(
        `  of which: rendered -> user.sync sent ${sync.sentAtMs - renderedAtMs} ms, user.sync answered in ${sync.answeredAtMs - sync.sentAtMs} ms, answered -> "synced" shown ${renderedAtMs + firstSyncMs - sync.answeredAtMs} ms`,
      );
    }

    // The console's first open, by an admin in a browser of their own: the demo compiled it before "Open".
    const admin = await (await browser.newContext()).newPage();
    await admin.goto(`http://localhost:${appPort}/`);
    await admin.getByRole("button", { name: "Sign in" }).click();
    await admin.waitForURL(`http://localhost:${emulatorPort}/sign-in**`);
    await admin.locator(`button[data-user-id="${adminUserId}"]`).click();
    await admin.locator('[data-testid="sync-status"][data-status="synced"]').waitFor({ timeout: 120_000 });
    const consoleStartedAtMs = Date.now();
    await admin.goto(`http://localhost:${appPort}/admin/sync`);
    await admin.getByRole("heading", { name: "User sync console" }).waitFor({ timeout: 120_000 });
    const headingMs = Date.now() - consoleStartedAtMs;
    await admin.getByRole("button", { name: "Dry run" }).waitFor({ timeout: 120_000 });
    console.log(`first console open (/admin/sync), navigation -> heading ${headingMs} ms, -> its reconcile panel ${Date.now() - consoleStartedAtMs} ms`);
  } finally {
    await browser.close();
    // The demo and the next dev it started share a process group.
    if (demo.pid) process.kill(-demo.pid, "SIGTERM");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
