/**
 * `--baseline <git-ref>`: the ref checked out in a throwaway `git worktree` under the system's
 * temporary folder (one per commit, kept so the next run reuses its build: `git worktree remove`
 * it when done), its node_modules hard-linked from this checkout (`cp -al`, no install) and its
 * plugin package built. `startStack` then builds and serves it beside the current build.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed:\n${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

export function prepareBaseline(ref: string, progress: (line: string) => void): { dir: string; label: string } {
  const repo = process.cwd();
  const commit = run("git", ["rev-parse", "--verify", `${ref}^{commit}`], repo);
  const label = ref.startsWith(commit.slice(0, 7)) ? commit.slice(0, 7) : `${ref} (${commit.slice(0, 7)})`;
  const dir = path.join(os.tmpdir(), `clerk-user-sync-bench-baseline-${commit.slice(0, 12)}`);
  if (!fs.existsSync(path.join(dir, ".git"))) {
    progress(`baseline ${label}: git worktree in ${dir} …`);
    // A folder left by a worktree removed by hand is forgotten first.
    run("git", ["worktree", "prune"], repo);
    run("git", ["worktree", "add", "--detach", dir, commit], repo);
  }
  if (!fs.existsSync(path.join(dir, "node_modules"))) run("cp", ["-al", path.join(repo, "node_modules"), path.join(dir, "node_modules")], repo);
  if (!fs.existsSync(path.join(dir, "src/user-sync/dist"))) {
    progress(`baseline ${label}: npm run build:package …`);
    run("npm", ["run", "build:package"], dir);
  }
  return { dir, label };
}
