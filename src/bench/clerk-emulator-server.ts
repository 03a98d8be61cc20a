/**
 * The benchmark's Clerk: the Clerk emulator (its real Backend API: list, count and `user_id`
 * filters, Clerk's rate limits, the secret-key check) in a process of its own, so the
 * benchmark's memory figures are the reconciler's alone. Seeds `<users>` users with the control
 * API's bulk import, prints `{"url", "secretKey"}`, stops when its stdin closes.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { ClerkEmulatorControl, fidelityFromEnv, startClerkEmulator } from "clerk-user-sync-emulator";

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) throw new Error("usage: clerk-emulator-server.ts <users>");

const port = await new Promise<number>((resolve) => {
  const probe = net.createServer().listen(0, () => {
    const { port: free } = probe.address() as net.AddressInfo;
    probe.close(() => resolve(free));
  });
});
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "user-sync-bench-clerk-"));
const { emulator, close } = await startClerkEmulator({
  port,
  appUrl: "http://localhost:9",
  stateDir,
  seeds: [],
  clerkJsDir: null,
  log: () => undefined,
  // Full reconciliation still walks by offset, which Clerk (and the emulator by default) times out
  // past a depth: off here until it walks by cursor (issue 17); CLERK_EMULATOR_OFFSET_TIMEOUT_DEPTH turns it on.
  fidelity: { offsetTimeoutDepth: null, ...fidelityFromEnv() },
});
const seeded = await new ClerkEmulatorControl(emulator.origin).createUsersInBulk(count);
process.stdout.write(`${JSON.stringify({ url: emulator.origin, secretKey: emulator.identity.secretKey, seedMs: seeded.durationMs })}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void close().then(() => {
    fs.rmSync(stateDir, { recursive: true, force: true });
    process.exit(0);
  });
});
