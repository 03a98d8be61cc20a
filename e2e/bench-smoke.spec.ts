import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect, test } from "@playwright/test";

import { appPort, databaseUrl, emulatorPort } from "./support/settings";

/**
 * The benchmarks cannot rot: `npm run bench -- --smoke` (every part, tiny sizes, its own build,
 * Clerk emulator, bare floor and database beside this suite's) must finish and write a
 * well-formed result. Its figures mean nothing at these sizes and on a busy machine; nothing
 * here looks at a time.
 */
test("npm run bench -- --smoke runs every part and writes its raw figures", async () => {
  test.setTimeout(420_000);
  const jsonOut = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-smoke-")), "bench.json");
  const benchDatabase = new URL(databaseUrl);
  benchDatabase.pathname = `${benchDatabase.pathname}_bench`;
  const child = spawn("npm", ["run", "bench", "--", "--smoke", "--json-out", jsonOut], {
    env: {
      ...process.env,
      BENCH_APP_PORT: String(appPort + 20),
      BENCH_FLOOR_PORT: String(appPort + 21),
      BENCH_RAW_FLOOR_PORT: String(appPort + 22),
      BENCH_CLERK_EMULATOR_PORT: String(emulatorPort + 20),
      BENCH_DATABASE_URL: benchDatabase.toString(),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code, output).toBe(0);

  const result = JSON.parse(fs.readFileSync(jsonOut, "utf8")) as {
    smoke: boolean;
    parts: Record<string, { rows: { part: string; measure: string; product: string; floor: string; rawFloor?: string; peer?: string }[] }>;
    markdown: string;
  };
  expect(result.smoke).toBe(true);
  expect(Object.keys(result.parts).sort()).toEqual(["client", "reconcile", "sessions", "sync", "webhook"]);
  const partsInRows = new Set(Object.values(result.parts).flatMap((part) => part.rows.map((row) => row.part.split(" ")[0])));
  expect([...partsInRows].sort()).toEqual(["P1", "P2", "P3", "P4", "P5", "P6"]);
  for (const part of Object.values(result.parts)) {
    for (const row of part.rows) expect(row.product, `${row.part} ${row.measure}`).toMatch(/^\d/);
  }
  // Every load part measured its floor beside the product.
  for (const name of ["sync", "webhook", "reconcile"]) {
    for (const row of result.parts[name]!.rows) expect(row.floor, `${row.part} ${row.measure}`).toMatch(/^\d/);
  }
  // The raw floor beside every load row, the peer beside every user.sync row, both workloads.
  for (const name of ["sync", "webhook"]) {
    for (const row of result.parts[name]!.rows) expect(row.rawFloor, `${row.part} ${row.measure}`).toMatch(/^\d/);
  }
  for (const row of result.parts.sync!.rows) expect(row.peer, row.measure).toMatch(/^\d/);
  expect(new Set(result.parts.sync!.rows.map((row) => row.measure.split(",")[0]))).toEqual(new Set(["re-sync", "sign-in"]));
  // The sessions journeys counted something: one Clerk call for the first sign-in.
  expect(result.parts.sessions!.rows.find((row) => row.part.startsWith("P1"))?.product).toBe("1");
});
