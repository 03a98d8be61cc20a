/**
 * One process at a time in an embedded PGlite folder. PGlite is PostgreSQL in one process with
 * no shared memory: two processes writing the same folder corrupt it (it then fails to open
 * with `Aborted()`). Every process that opens the folder (the app, `npm run users:reconcile`)
 * and `npm run demo` take this lock first: a file beside the folder (`<folder>.lock`, mode 0600)
 * naming the holder's pid and command. A lock whose pid is no longer alive is stale and taken
 * over, so a killed process never blocks the next one.
 *
 * The demo holds the lock for the `next dev` it starts: it passes the lock's token to it
 * (`PGLITE_LOCK_TOKEN`), and a process presenting the holder's token shares the lock. The demo
 * also writes its app URL and admin key into the lock file, so the CLI can work through the
 * running app instead of opening the folder.
 *
 * No "server-only": `scripts/demo.ts` and the CLI use it outside Next.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** What the lock file holds. */
export type EmbeddedLockHolder = {
  pid: number;
  /** What holds it, for the message a refused process prints (e.g. `npm run demo`). */
  command: string;
  /** Shared with the processes the holder starts (`PGLITE_LOCK_TOKEN`). */
  token: string;
  /** Set by the demo: where its app answers, and the admin key it started the app with. */
  appUrl?: string;
  adminApiKey?: string;
};

/** Another live process holds the folder. The message names the folder, the holder and what to do. */
export class EmbeddedDatabaseInUseError extends Error {
  override readonly name = "EmbeddedDatabaseInUseError";
  constructor(
    readonly dataDir: string,
    readonly holder: EmbeddedLockHolder,
  ) {
    super(
      `the embedded database ${dataDir} is open in another process (${holder.command}, pid ${holder.pid}); PGlite allows one process per folder: stop that process first`,
    );
  }
}

export function embeddedLockPath(dataDir: string): string {
  return `${path.resolve(dataDir)}.lock`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, another user's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseHolder(text: string): EmbeddedLockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<EmbeddedLockHolder>;
    return typeof value.pid === "number" && Number.isInteger(value.pid) && value.pid > 0 && typeof value.token === "string"
      ? { command: "another process", ...value, pid: value.pid, token: value.token }
      : null;
  } catch {
    return null;
  }
}

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The live holder of `dataDir`'s lock, or null when it is free (no file, or its process is
 * gone). A file being written (empty or partial JSON) is read again for up to a second.
 */
export function readEmbeddedLock(dataDir: string): EmbeddedLockHolder | null {
  const file = embeddedLockPath(dataDir);
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    const holder = parseHolder(text);
    if (holder) return isAlive(holder.pid) ? holder : null;
    if (attempt >= 10) return null;
    sleepSync(100);
  }
}

export type EmbeddedLock = {
  holder: EmbeddedLockHolder;
  /** Removes the lock file if this process wrote it (also done when the process exits). */
  release(): void;
};

/**
 * Takes `dataDir`'s lock for this process, or throws `EmbeddedDatabaseInUseError` while another
 * live process holds it. Re-entrant within a process; a process presenting the holder's token
 * (`sharedToken`) shares the lock without writing it.
 */
export function acquireEmbeddedLock(
  dataDir: string,
  options: { command: string; sharedToken?: string; appUrl?: string; adminApiKey?: string },
): EmbeddedLock {
  const file = embeddedLockPath(dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const notOurs = { release: () => undefined };
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = readEmbeddedLock(dataDir);
    if (current) {
      if (current.pid === process.pid || (options.sharedToken && current.token === options.sharedToken)) return { holder: current, ...notOurs };
      throw new EmbeddedDatabaseInUseError(dataDir, current);
    }
    // Free or stale: take it. `wx` fails if another process created it since we looked.
    fs.rmSync(file, { force: true });
    const holder: EmbeddedLockHolder = {
      pid: process.pid,
      command: options.command,
      token: randomBytes(16).toString("hex"),
      ...(options.appUrl ? { appUrl: options.appUrl } : {}),
      ...(options.adminApiKey ? { adminApiKey: options.adminApiKey } : {}),
    };
    try {
      fs.writeFileSync(file, JSON.stringify(holder), { flag: "wx", mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw error;
    }
    const release = () => {
      try {
        if (parseHolder(fs.readFileSync(file, "utf8"))?.token === holder.token) fs.rmSync(file, { force: true });
      } catch {
        // Already gone.
      }
    };
    process.once("exit", release);
    return { holder, release };
  }
  const current = readEmbeddedLock(dataDir);
  if (current) throw new EmbeddedDatabaseInUseError(dataDir, current);
  throw new Error(`could not take the lock of the embedded database ${dataDir}`);
}

/** A PGlite folder that fails to open: how to recover. Also `npm run demo`'s own check. */
export function embeddedDatabaseDamagedMessage(dataDir: string): string {
  return (
    `the embedded database ${dataDir} does not open: it is damaged (most often by two processes opening it at once). ` +
    `Start afresh with \`npm run demo -- --reset\` (deletes the demo's database and the emulator's users), ` +
    `or move the folder away to keep it and start again`
  );
}
