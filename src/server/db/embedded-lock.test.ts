/**
 * The embedded database's lock across real processes: a holder in another live process refuses
 * (or shares, with its token); a killed holder's lock is taken over; the holder's exit frees it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { acquireEmbeddedLock, EmbeddedDatabaseInUseError, embeddedLockPath, readEmbeddedLock } from "./embedded-lock";

let root: string;
let dataDir: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "embedded-lock-"));
  dataDir = path.join(root, "pglite");
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  fs.rmSync(root, { recursive: true, force: true });
});

/** Another process that takes the lock, says so, and holds it until it is killed or told to exit. */
async function holderProcess(command: string) {
  const script = `
    import { acquireEmbeddedLock } from ${JSON.stringify(path.resolve(import.meta.dirname, "embedded-lock.ts"))};
    acquireEmbeddedLock(${JSON.stringify(dataDir)}, { command: ${JSON.stringify(command)} });
    console.log("held");
    process.stdin.on("data", () => process.exit(0));
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("held")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  return child;
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => child.once("exit", () => resolve()));

describe("the embedded database's lock", () => {
  it("refuses while another live process holds the folder, naming it", async () => {
    const child = await holderProcess("npm run dev");
    expect(readEmbeddedLock(dataDir)).toMatchObject({ pid: child.pid, command: "npm run dev" });
    let refusal: unknown;
    try {
      acquireEmbeddedLock(dataDir, { command: "npm run users:reconcile" });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(EmbeddedDatabaseInUseError);
    expect((refusal as Error).message).toContain(`npm run dev, pid ${child.pid}`);
    expect((refusal as Error).message).toContain(dataDir);
    // The holder's lock is untouched.
    expect(readEmbeddedLock(dataDir)?.pid).toBe(child.pid);
  });

  it("is shared with a process that presents the holder's token", async () => {
    const child = await holderProcess("npm run demo");
    const holder = readEmbeddedLock(dataDir)!;
    const shared = acquireEmbeddedLock(dataDir, { command: "the app", sharedToken: holder.token });
    expect(shared.holder.pid).toBe(child.pid);
    shared.release();
    expect(readEmbeddedLock(dataDir)?.pid).toBe(child.pid);
    expect(() => acquireEmbeddedLock(dataDir, { command: "the app", sharedToken: "not-the-token" })).toThrow(EmbeddedDatabaseInUseError);
  });

  it("takes over the lock of a killed holder, and frees it when its holder exits", async () => {
    const killed = await holderProcess("npm run demo");
    killed.kill("SIGKILL");
    await exited(killed);
    expect(fs.existsSync(embeddedLockPath(dataDir))).toBe(true);
    expect(readEmbeddedLock(dataDir)).toBeNull();
    const lock = acquireEmbeddedLock(dataDir, { command: "npm run users:reconcile" });
    expect(readEmbeddedLock(dataDir)).toMatchObject({ pid: process.pid, command: "npm run users:reconcile" });
    // Re-entrant in its own process.
    expect(acquireEmbeddedLock(dataDir, { command: "again" }).holder.pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(embeddedLockPath(dataDir))).toBe(false);

    const exiting = await holderProcess("npm run dev");
    exiting.stdin?.write("exit\n");
    await exited(exiting);
    expect(fs.existsSync(embeddedLockPath(dataDir))).toBe(false);
  });
});
