/**
 * `npm run check`'s prerequisites step, run as a child process with binaries hidden by its
 * environment (nothing on this machine is uninstalled): a user who cannot install Debian
 * packages gets one message naming the exact command and nothing runs; root installs what is
 * missing through apt-get (a stand-in on PATH that records its arguments and installs into a
 * temp folder) and says what it installs.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

const script = path.resolve(import.meta.dirname, "check-prerequisites.mjs");
const isRoot = process.getuid?.() === 0;
const nobody = 65534;
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-prerequisites-"));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, "bin"));
  // Node alone on PATH: no sudo, no apt-get, no chromium, no pgbouncer.
  fs.symlinkSync(process.execPath, path.join(dir, "bin/node"));
  fs.copyFileSync(script, path.join(dir, "check-prerequisites.mjs"));
  fs.chmodSync(path.join(dir, "check-prerequisites.mjs"), 0o644);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function runScript(env: Record<string, string>, options: { uid?: number } = {}) {
  const result = spawnSync(path.join(dir, "bin/node"), [path.join(dir, "check-prerequisites.mjs")], {
    cwd: dir,
    env: { PATH: path.join(dir, "bin"), E2E_CHROMIUM_PATH: path.join(dir, "missing/chromium"), PGBOUNCER_PATH: path.join(dir, "missing/pgbouncer"), ...env } as unknown as NodeJS.ProcessEnv,
    encoding: "utf8",
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("check-prerequisites", () => {
  it("stops a user who cannot install packages with one message naming the exact command", () => {
    // Root here: run it as `nobody` (not root; sudo is not on PATH). Otherwise as this user, sudo hidden by PATH.
    const result = runScript({}, isRoot ? { uid: nobody } : {});
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("this user cannot install Debian packages (not root, no passwordless sudo)");
    expect(result.stderr).toContain("sudo apt-get update && sudo apt-get install -y chromium pgbouncer");
    expect(result.stderr).toContain(`Chromium (the e2e suite; ${path.join(dir, "missing/chromium")}) and PgBouncer (the driver matrix; ${path.join(dir, "missing/pgbouncer")}) are not installed`);
    expect(result.stderr).toContain("Set E2E_CHROMIUM_PATH / PGBOUNCER_PATH");
  });

  it("names only what is missing", () => {
    fs.writeFileSync(path.join(dir, "chromium"), "#!/bin/sh\n", { mode: 0o755 });
    const result = runScript({ E2E_CHROMIUM_PATH: path.join(dir, "chromium") }, isRoot ? { uid: nobody } : {});
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("sudo apt-get update && sudo apt-get install -y pgbouncer\n");
    expect(result.stderr).not.toContain("Chromium");
  });

  it("does nothing when both are there", () => {
    for (const name of ["chromium", "pgbouncer"]) fs.writeFileSync(path.join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
    const result = runScript({ E2E_CHROMIUM_PATH: path.join(dir, "chromium"), PGBOUNCER_PATH: path.join(dir, "pgbouncer") }, isRoot ? { uid: nobody } : {});
    expect(result).toEqual({ status: 0, stdout: "", stderr: "" });
  });

  it.runIf(isRoot && fs.existsSync("/etc/debian_version"))("as root installs the missing packages with apt-get, saying what it installs", () => {
    const installed = path.join(dir, "installed");
    fs.writeFileSync(
      path.join(dir, "bin/apt-get"),
      [
        "#!/bin/sh",
        `echo "$DEBIAN_FRONTEND $*" >> ${dir}/apt-get.log`,
        'if [ "$1" = install ]; then',
        `  /bin/mkdir -p ${installed}`,
        '  for p in "$@"; do case "$p" in chromium|pgbouncer) printf "#!/bin/sh\\n" > ' + installed + '/$p; /bin/chmod 755 ' + installed + "/$p;; esac; done",
        "fi",
      ].join("\n"),
      { mode: 0o755 },
    );
    const result = runScript({ E2E_CHROMIUM_PATH: path.join(installed, "chromium"), PGBOUNCER_PATH: path.join(installed, "pgbouncer") });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("npm run check: Chromium (the e2e suite;");
    expect(result.stdout).toContain("(the driver matrix;");
    expect(result.stdout).toContain(") are missing; installing the Debian packages chromium pgbouncer: ");
    expect(result.stdout).toContain("apt-get install -y chromium pgbouncer");
    expect(result.stdout).toContain("npm run check: installed chromium pgbouncer.");
    expect(fs.readFileSync(path.join(dir, "apt-get.log"), "utf8").split("\n")).toEqual([
      "noninteractive update -qq",
      "noninteractive install -y -qq --no-install-recommends chromium pgbouncer",
      "",
    ]);
  });
});
