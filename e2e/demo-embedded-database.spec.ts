import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { PGlite } from "@electric-sql/pglite";
import { expect, test, type Page } from "@playwright/test";

import { appPort, emulatorConfig, emulatorPort } from "./support/settings";

/**
 * `npm run demo` and its embedded PGlite database as a newcomer meets them: the reconcile CLI
 * beside a running demo works through the demo (the folder is never opened twice, the demo
 * keeps syncing and the folder still opens afterwards), a second demo on the same folder is
 * refused, and a damaged folder stops the demo with how to recover, which `--reset` does.
 * Each demo runs on ports and folders of its own, beside this suite's app; nothing here looks at
 * a time.
 */
const demoAppPort = Number(process.env.E2E_DEMO_APP_PORT ?? appPort + 40);
const demoEmulatorPort = Number(process.env.E2E_DEMO_CLERK_EMULATOR_PORT ?? emulatorPort + 40);
const demoUrl = `http://localhost:${demoAppPort}`;
const demoRoot = path.resolve(".data/e2e-demo");
const demoStateDir = path.join(demoRoot, "clerk-emulator");

test.describe.configure({ mode: "serial" });

/** The environment a newcomer's shell has: none of the app's or the emulator's variables. */
function newcomerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) {
    if (/^(DATABASE_URL|ADMIN_API_KEY|CLERK_|NEXT_PUBLIC_CLERK_)/.test(name) && !(name in extra)) delete env[name];
  }
  return env;
}

type Run = { child: ChildProcessWithoutNullStreams; output: () => string; stdout: () => string; exited: Promise<number | null> };

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  // Its own process group: the demo's next dev is stopped with it.
  const child = spawn(command, args, { env, stdio: "pipe", detached: true });
  let output = "";
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, exited };
}

function startDemo(dataDir: string, args: string[] = []): Run {
  return run("npm", ["run", "demo", "--", ...args], {
    ...newcomerEnv({
      PORT: String(demoAppPort),
      CLERK_EMULATOR_PORT: String(demoEmulatorPort),
      CLERK_EMULATOR_STATE_DIR: demoStateDir,
      PGLITE_DATA_DIR: dataDir,
      NEXT_DIST_DIR: ".next-demo-e2e",
    }),
  });
}

/** "Open" or the demo's exit, whichever comes first. */
async function opened(demo: Run, timeoutMs = 480_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void demo.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (demo.output().includes("[demo] Open http")) return true;
    if (exited) return false;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the demo printed neither "Open" nor exited within ${timeoutMs} ms:\n${demo.output()}`);
}

async function stop(demo: Run) {
  if (demo.child.exitCode === null && demo.child.pid) {
    try {
      process.kill(-demo.child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  await demo.exited;
}

async function signInAndSync(page: Page, userId: string) {
  await page.goto(demoUrl);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`http://localhost:${demoEmulatorPort}/sign-in**`, { timeout: 60_000 });
  await page.locator(`button[data-user-id="${userId}"]`).click();
  await expect(page.locator('[data-testid="sync-status"][data-status="synced"]')).toBeVisible({ timeout: 120_000 });
}

test.beforeAll(() => {
  fs.rmSync(demoRoot, { recursive: true, force: true });
  fs.mkdirSync(demoStateDir, { recursive: true });
  // The clerk-js bundles this suite's emulator already unpacked (no second npm pack).
  for (const entry of fs.readdirSync(emulatorConfig.stateDir)) {
    if (/^clerk-(js|ui)-\d/.test(entry)) fs.symlinkSync(path.resolve(emulatorConfig.stateDir, entry), path.join(demoStateDir, entry));
  }
});

test("the reconcile CLI beside a running demo works through it; the demo keeps syncing and its database still opens", async ({ page }) => {
  test.setTimeout(900_000);
  const dataDir = path.join(demoRoot, "pglite");
  const demo = startDemo(dataDir);
  try {
    expect(await opened(demo), demo.output()).toBe(true);

    // A second demo on the same folder is refused before it opens anything.
    const second = startDemo(dataDir);
    expect(await second.exited, second.output()).toBe(1);
    expect(second.output()).toMatch(/is open in another process \(npm run demo, pid \d+\)/);
    expect(second.output()).not.toContain("[demo] Open");

    // The CLI, from a shell with none of the demo's env: through the demo's admin API.
    const cliEnv = newcomerEnv({ PGLITE_DATA_DIR: dataDir });
    const applied = run("npm", ["run", "users:reconcile", "--", "--apply", "--json"], cliEnv);
    expect(await applied.exited, applied.output()).toBe(0);
    expect(applied.output()).toContain("reconciling through its admin API");
    const report = JSON.parse(applied.stdout().slice(applied.stdout().indexOf("\n{") + 1)) as { dryRun: boolean; counts: { missing: number } };
    expect(report.dryRun).toBe(false);
    expect(report.counts.missing).toBeGreaterThan(0);

    const again = run("npm", ["run", "users:reconcile", "--", "--dry-run"], cliEnv);
    expect(await again.exited, again.output()).toBe(0);
    expect(again.output()).toMatch(/missing \(created\)\s*│\s*0\s/);

    // The demo keeps syncing; and every page the admin reaches was compiled before "Open".
    await signInAndSync(page, "user_demo_margaret");
    await page.goto(`${demoUrl}/dashboard/settings`);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible({ timeout: 120_000 });
    await page.goto(`${demoUrl}/profile`);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible({ timeout: 120_000 });
    await page.getByRole("link", { name: "Admin console" }).click();
    await expect(page.getByRole("heading", { name: "User sync console" })).toBeVisible({ timeout: 120_000 });
    await expect(page.locator('[data-testid="reconcile-panel"]')).toBeVisible({ timeout: 120_000 });
    const afterOpen = demo.output().slice(demo.output().indexOf("[demo] Open http"));
    expect(afterOpen, "a route compiled after the demo printed Open").not.toContain("Compiling");
    expect(demo.output()).not.toMatch(/database did not open/);
  } finally {
    await stop(demo);
  }

  // Its folder was never opened twice: it opens, with the users the CLI wrote.
  const client = new PGlite(dataDir);
  try {
    const { rows } = await client.query<{ count: number }>("select count(*)::int as count from users");
    expect(rows[0]!.count).toBeGreaterThan(0);
  } finally {
    await client.close();
  }
});

test("a damaged database folder stops the demo with how to recover, and --reset starts afresh", async ({ page }) => {
  test.setTimeout(900_000);
  const dataDir = path.join(demoRoot, "damaged", "pglite");
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const made = new PGlite(dataDir);
  await made.query("select 1");
  await made.close();
  // What a second process's writes leave behind: a control file PostgreSQL cannot read.
  const control = fs.openSync(path.join(dataDir, "global", "pg_control"), "r+");
  fs.writeSync(control, Buffer.alloc(64));
  fs.closeSync(control);

  const damaged = startDemo(dataDir);
  expect(await damaged.exited, damaged.output()).toBe(1);
  expect(damaged.output()).toContain(`the embedded database ${dataDir} does not open: it is damaged`);
  expect(damaged.output()).toContain("npm run demo -- --reset");
  expect(damaged.output()).not.toContain("[demo] Open");

  const reset = startDemo(dataDir, ["--reset"]);
  try {
    expect(await opened(reset), reset.output()).toBe(true);
    expect(reset.output()).toContain(`reset: deleted ${dataDir}`);
    await signInAndSync(page, "user_demo_grace");
  } finally {
    await stop(reset);
  }
});
