/**
 * P6: what the plugin's client costs. Bytes: the plugin's client modules bundled the way Next
 * ships them (esbuild, minified, for the browser, its host's packages — react, @clerk/*, @tanstack/*,
 * @trpc/*, zod — external), gzipped; and the production build's chunks that carry them. Time: navigation
 * to first content on `/dashboard` while Clerk's Backend API takes 2 s per `getUser` and the page
 * load starts a sync (the once-per-session marker cleared), against the time "synced" appears.
 */
import fs from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";

import { chromium } from "@playwright/test";
import { build } from "esbuild";

import { chromiumArgs, chromiumPath } from "../../../e2e/support/settings";
import { median, round } from "../support/load";
import { ms, type PartResult, type Row } from "../support/report";
import type { Stack } from "../support/stack";

import { clearSyncMarkers, signIn, waitForSynced } from "./sessions";

const clerkLatencyMs = 2000;
const gzipBytes = (text: string | Buffer) => gzipSync(text, { level: 9 }).length;

/** The entry's bundle, minified and gzipped, as P6 reports it (callable without the stack, e.g. from `npx tsx -e`). */
export async function bundledBytes(entry: string) {
  const result = await build({
    stdin: { contents: entry, resolveDir: path.resolve("src/user-sync/client"), loader: "ts" },
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    external: ["react", "react-dom", "react/jsx-runtime", "@clerk/*", "@tanstack/*", "@trpc/*", "zod"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  return { minifiedBytes: Buffer.byteLength(code), gzipBytes: gzipBytes(code) };
}

/** The production build's browser chunks that contain the plugin's client (found by its localStorage key). */
function chunksWithPlugin(distDir: string) {
  const root = path.join(distDir, "static", "chunks");
  const found: { file: string; gzipBytes: number }[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".js")) {
        const content = fs.readFileSync(file);
        if (content.includes("clerk-user-sync:v1")) found.push({ file: path.relative(distDir, file), gzipBytes: gzipBytes(content) });
      }
    }
  };
  if (fs.existsSync(root)) walk(root);
  return found;
}

export async function benchClient(stack: Stack, options: { rounds: number }): Promise<PartResult> {
  const sync = await bundledBytes(`export { UserSyncProvider, useUserSync, useSessionScoped, UserSyncAccountMismatchError } from "./index";`);
  const wholeEntry = await bundledBytes(`export * from "./index";`);
  const chunks = chunksWithPlugin(stack.distDir);

  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  const loads: { firstContentMs: number; statusShownMs: number; syncedMs: number; clerkCalls: number }[] = [];
  try {
    const context = await browser.newContext();
    // Records, in the page's own clock, when the sync status first shows and when it turns "synced".
    await context.addInitScript(() => {
      const marks: Record<string, number> = {};
      (window as unknown as { benchMarks: Record<string, number> }).benchMarks = marks;
      new MutationObserver(() => {
        const status = document.querySelector('[data-testid="sync-status"]');
        if (status && marks.statusShown === undefined) marks.statusShown = performance.now();
        if (status?.getAttribute("data-status") === "synced" && marks.synced === undefined) marks.synced = performance.now();
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
    const page = await context.newPage();
    await signIn(page, stack, "user_demo_ada");
    await stack.emulator.setFault({ endpoint: "getUser", latencyMs: clerkLatencyMs });
    try {
      for (let i = 0; i < options.rounds; i++) {
        await clearSyncMarkers(page);
        await stack.emulator.resetCounters();
        await page.goto(`${stack.appUrl}/dashboard`);
        await waitForSynced(page);
        const marks = await page.evaluate(() => {
          const paint = performance.getEntriesByName("first-contentful-paint")[0];
          const own = (window as unknown as { benchMarks: Record<string, number> }).benchMarks;
          return { firstContentMs: paint?.startTime ?? Number.NaN, statusShownMs: own.statusShown ?? Number.NaN, syncedMs: own.synced ?? Number.NaN };
        });
        loads.push({ ...marks, clerkCalls: await stack.emulator.count("getUser") });
      }
    } finally {
      await stack.emulator.clearFaults("getUser");
    }
    await context.close();
  } finally {
    await browser.close();
  }
  const firstContentMs = round(median(loads.map((l) => l.firstContentMs)));
  const syncedMs = round(median(loads.map((l) => l.syncedMs)));
  const statusShownMs = round(median(loads.map((l) => l.statusShownMs)));
  const everyLoadSynced = loads.every((l) => l.clerkCalls === 1);
  const rows: Row[] = [
    {
      part: "P6 client",
      measure: "plugin client code, gzip (UserSyncProvider, useUserSync, useSessionScoped)",
      product: `${sync.gzipBytes} B`,
      frameworkFloor: "—",
      floor: "—",
      ratio: "—",
      goal: "≤ 2048 B",
      met: sync.gzipBytes <= 2048,
    },
    {
      part: "P6 client",
      measure: `navigation → first content on /dashboard, Clerk getUser +${clerkLatencyMs} ms (synced at ${ms(syncedMs)})`,
      product: ms(firstContentMs),
      frameworkFloor: "—",
      floor: "—",
      ratio: "—",
      goal: "before the sync ends",
      met: everyLoadSynced && firstContentMs < syncedMs && firstContentMs < clerkLatencyMs,
    },
  ];
  return {
    rows,
    raw: { bundle: { sync, wholeEntry, chunks }, clerkLatencyMs, loads, medians: { firstContentMs, statusShownMs, syncedMs } },
    notes: [
      `P6: bytes from esbuild (minified, browser, react, @clerk, @tanstack, @trpc and zod external, gzip -9); the whole client entry (with the profile form's schema) is ${wholeEntry.gzipBytes} B gzip; build chunks carrying it: ${chunks.map((c) => `${c.file} ${c.gzipBytes} B gzip`).join(", ") || "none found"}. First content: Chromium's first-contentful-paint, ${loads.length} loads, each starting a sync (${everyLoadSynced ? "1 getUser each" : "NOT every load called Clerk once"}); the sync status showed at ${ms(statusShownMs)}.`,
    ],
  };
}
