// Builds the package (dist/) when a source file is newer than the last build (always with
// --force), so the host app's dev, build, lint, typecheck and test scripts consume the current
// source through the package's exports, at no cost when nothing changed.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = import.meta.dirname;
const stamp = path.join(root, "dist", ".build-stamp");
const inputs = ["package.json", "tsup.config.ts", "tsconfig.build.json", "schema.ts", "webhook.ts", "server", "client", "shared", "testing"];

/** @param {string} entry @returns {number} */
function newestMtimeMs(entry) {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return /\.test\.tsx?$/.test(entry) ? 0 : stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(entry).map((name) => newestMtimeMs(path.join(entry, name))));
}

const force = process.argv.includes("--force");
const builtAtMs = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
const changedAtMs = Math.max(...inputs.map((input) => newestMtimeMs(path.join(root, input))));
if (force || changedAtMs > builtAtMs) {
  const startedAtMs = Date.now();
  fs.rmSync(path.join(root, "dist"), { recursive: true, force: true });
  const build = spawnSync("npx", ["tsup", "--silent"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
  fs.writeFileSync(stamp, `${new Date(startedAtMs).toISOString()}\n`);
  fs.utimesSync(stamp, new Date(startedAtMs), new Date(startedAtMs));
}
