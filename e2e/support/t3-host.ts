/**
 * The app `create-t3-app` 7.40 generates (`e2e/fixtures/t3-host/template`), with Clerk added as
 * Clerk's quickstart says (`clerk.patch`), in two variants — as generated (Next 15, drizzle-orm
 * 0.41, zod 3) and upgraded to Next 16 (`next16.patch`) — adopting the plugin by README's steps
 * (`adopt.patch`) and showing `useUserSync()` on its page (`use.patch`). Each variant is laid out
 * in the OS's temp folder, installs the plugin's `npm pack` tarball with a plain `npm install`,
 * builds with `next build` with no Clerk variable in the environment, creates its tables with
 * `drizzle-kit push` (twice: the second must change nothing of the plugin's), and serves with
 * `next start` on its own port and database against the e2e run's Clerk emulator, with the env
 * `npx clerk-emulator --print-env` prints from the emulator package the host installed
 * (`emulator.patch`), as an adopter runs it.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

import { createEmptyDatabase } from "./database";
import { appPort, databaseUrl, emulatorConfig } from "./settings";

export type T3Variant = "next15" | "next16";

const fixtureDir = path.resolve("e2e/fixtures/t3-host");
const patchesOf: Record<T3Variant, string[]> = {
  next15: ["clerk.patch", "adopt.patch", "use.patch", "emulator.patch"],
  next16: ["clerk.patch", "next16.patch", "adopt.patch", "use.patch", "emulator.patch"],
};

/** The variant's port (`E2E_T3_HOST_PORT`, default the app's + 10, for Next 15; the next one for Next 16) and database. */
export function t3Host(variant: T3Variant) {
  const port = Number(process.env.E2E_T3_HOST_PORT ?? appPort + 10) + (variant === "next16" ? 1 : 0);
  const database = new URL(databaseUrl);
  database.pathname = `${database.pathname}_t3_${variant}`;
  const workDir = path.join(os.tmpdir(), `clerk-user-sync-t3-${variant}-${port}`);
  return { variant, port, url: `http://localhost:${port}`, databaseUrl: database.toString(), workDir, appDir: path.join(workDir, "app") };
}
export type T3Host = ReturnType<typeof t3Host>;

type Run = { code: number; output: string; stdout: string };

/** Runs a command to its end and answers its exit code and output (stdout and stderr), never throwing on a failure. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`, stdout });
    });
  });
}

async function mustRun(name: string, command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${name} failed (exit ${result.code}):\n${result.output.slice(-4000)}`);
  return result;
}

async function step<T>(name: string, timings: Record<string, number>, action: () => Promise<T>) {
  const startedAtMs = Date.now();
  try {
    return await action();
  } finally {
    timings[name] = Date.now() - startedAtMs;
  }
}

/** The environment with every Clerk variable removed: what a CI or Docker build without secrets has. */
function withoutClerk(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.includes("CLERK"))) as NodeJS.ProcessEnv;
}

/**
 * The template's layout loads Geist with `next/font/google`, which downloads it at build time;
 * this machine has no internet. Next's own hook for offline builds (`NEXT_FONT_GOOGLE_MOCKED_RESPONSES`)
 * answers the stylesheet, and the font file it names is Next's own copy of Geist, served on loopback.
 */
async function offlineGoogleFonts(host: T3Host) {
  const font = fs.readFileSync(path.join(host.appDir, "node_modules/next/dist/next-devtools/server/font/geist-latin.woff2"));
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "font/woff2" });
    response.end(font);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const stylesheetUrl = "https://fonts.googleapis.com/css2?family=Geist:wght@100..900&display=swap";
  const css = `@font-face { font-family: 'Geist'; font-style: normal; font-weight: 100 900; font-display: swap; src: url(http://127.0.0.1:${port}/geist-latin.woff2) format('woff2'); }`;
  const mockFile = path.join(host.workDir, "google-fonts.cjs");
  fs.writeFileSync(mockFile, `module.exports = ${JSON.stringify({ [stylesheetUrl]: css })};\n`);
  return { env: { NEXT_FONT_GOOGLE_MOCKED_RESPONSES: mockFile }, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** What `drizzle-kit push --verbose` did: its exit code, output, and the SQL statements it ran. */
export type PushRun = Run & { statements: string[] };

function pushStatements(colored: string): string[] {
  // Playwright's workers set FORCE_COLOR: drizzle-kit then colors its statements.
  const output = colored.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
  const start = output.indexOf("You are about to execute");
  if (start === -1) return [];
  const lines = output.slice(output.indexOf("\n", start) + 1).split("\n");
  const end = lines.findIndex((line) => line.includes("Changes applied"));
  return (end === -1 ? lines : lines.slice(0, end))
    .join("\n")
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== "");
}

type Tarball = { filename: string; size: number; entryCount: number };

/** `npm pack` of a workspace package into `dir` as `<name>.tgz`; `build`: its prepack runs (a fresh build). */
async function pack(workspace: string, dir: string, options: { build?: boolean } = {}): Promise<Tarball> {
  const args = ["pack", "--workspace", workspace, "--pack-destination", dir, "--json", ...(options.build ? [] : ["--ignore-scripts"])];
  const packed = await mustRun(`npm pack ${workspace}`, "npm", args, { cwd: process.cwd() });
  // The JSON comes last on stdout, after what a prepack printed.
  const [tarball] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as Tarball[];
  if (!tarball) throw new Error(`npm pack ${workspace} produced no tarball`);
  fs.renameSync(path.join(dir, tarball.filename), path.join(dir, `${workspace}.tgz`));
  return tarball;
}

/**
 * Lays the variant out (template + patches), packs the plugin, `npm install`, `next build` with no
 * Clerk variable, and `drizzle-kit push` twice into an empty database. `node_modules` of the
 * previous run is kept (npm's own install then reconciles it with the lockfile; the plugin's is
 * removed so the new tarball is installed), everything else is laid anew.
 */
export async function prepareT3Host(host: T3Host) {
  const timings: Record<string, number> = {};
  const keptModules = path.join(host.workDir, "node_modules.kept");
  fs.rmSync(keptModules, { recursive: true, force: true });
  if (fs.existsSync(path.join(host.appDir, "node_modules"))) fs.renameSync(path.join(host.appDir, "node_modules"), keptModules);
  fs.rmSync(host.appDir, { recursive: true, force: true });
  fs.mkdirSync(host.workDir, { recursive: true });
  fs.cpSync(path.join(fixtureDir, "template"), host.appDir, { recursive: true });
  for (const patch of patchesOf[host.variant]) {
    await mustRun(`git apply ${patch}`, "git", ["apply", "--whitespace=nowarn", path.join(fixtureDir, patch)], { cwd: host.appDir });
  }
  const reused = fs.existsSync(keptModules);
  if (reused) {
    fs.renameSync(keptModules, path.join(host.appDir, "node_modules"));
    for (const name of ["clerk-user-sync", "clerk-user-sync-emulator"]) fs.rmSync(path.join(host.appDir, "node_modules", name), { recursive: true, force: true });
  }

  // The packages as their releases would be: `npm pack` of the plugin (built first when its source
  // changed; prepack would rebuild it every time) and of the Clerk emulator, which the host installs
  // as a dev tool (emulator.patch). adopt.patch depends on "file:../clerk-user-sync.tgz".
  const tarball = await step("pack", timings, async () => {
    await mustRun("build:package", process.execPath, [path.resolve("src/user-sync/build.mjs")], { cwd: process.cwd() });
    const plugin = await pack("clerk-user-sync", host.workDir);
    await pack("clerk-user-sync-emulator", host.workDir, { build: true });
    return plugin;
  });

  // A plain `npm install`: no flag (npm's cache serves what the registry already sent).
  const install = await step(reused ? "install (kept node_modules)" : "install", timings, () =>
    mustRun("npm install", "npm", ["install"], { cwd: host.appDir }),
  );
  const env = { ...withoutClerk(process.env), DATABASE_URL: host.databaseUrl, NEXT_TELEMETRY_DISABLED: "1" };
  const fonts = await offlineGoogleFonts(host);
  try {
    await step("build", timings, () => mustRun("next build", "npx", ["next", "build"], { cwd: host.appDir, env: { ...env, ...fonts.env } }));
  } finally {
    await fonts.close();
  }
  await createEmptyDatabase(host.databaseUrl);
  const pushes: PushRun[] = [];
  for (const name of ["push", "push again"]) {
    // One stream, in order: drizzle-kit writes the statements and its progress lines to different ones.
    const push = await step(name, timings, () => run("sh", ["-c", "npx drizzle-kit push --verbose 2>&1"], { cwd: host.appDir, env }));
    pushes.push({ ...push, statements: pushStatements(push.output) });
  }
  return { timings, tarball, install, pushes };
}

/**
 * The app's Clerk env as an adopter gets it: `npx clerk-emulator --print-env` from the host's own
 * install of the emulator package, for this run's emulator (its port and state folder: its keys).
 */
export async function emulatorEnvFor(host: T3Host): Promise<Record<string, string>> {
  const args = ["clerk-emulator", "--app-url", host.url, "--port", String(emulatorConfig.port), "--state-dir", path.resolve(emulatorConfig.stateDir), "--print-env"];
  const printed = await mustRun("npx clerk-emulator --print-env", "npx", args, { cwd: host.appDir });
  return Object.fromEntries(
    printed.output
      .split("\n")
      .map((line) => /^([A-Z][A-Z0-9_]*)=(".*")$/.exec(line.trim()))
      .filter((match) => match !== null)
      .map((match) => [match[1]!, JSON.parse(match[2]!) as string]),
  );
}

export type T3HostServer = { process: ChildProcess; output: string[]; stop: () => void };

/** `next start` of the variant's build with the emulator's env, in its own process group; resolves once it serves pages. */
export async function startT3Host(host: T3Host, timeoutMs: number): Promise<T3HostServer> {
  const child = spawn("npx", ["next", "start", "-p", String(host.port)], {
    cwd: host.appDir,
    env: { ...withoutClerk(process.env), ...(await emulatorEnvFor(host)), DATABASE_URL: host.databaseUrl, NEXT_TELEMETRY_DISABLED: "1" },
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
    if (child.exitCode !== null) throw new Error(`${host.variant} next start exited: ${output.join("").slice(-2000)}`);
    try {
      if ((await fetch(host.url)).ok) return { process: child, output, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  stop();
  throw new Error(`${host.url} did not start: ${output.join("").slice(-2000)}`);
}
