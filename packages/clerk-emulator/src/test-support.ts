import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

import { createClerkClient } from "@clerk/backend";
import { afterAll, beforeAll, beforeEach } from "vitest";

import { ClerkEmulatorControl } from "./control-client";
import type { ClerkEmulatorOptions } from "./emulator";
import { startClerkEmulator, type RunningEmulator } from "./server";

/** One request the webhook receiver got: what the app's route would see. */
export type ReceivedWebhook = { headers: Record<string, string>; body: string };

/** A free TCP port on this machine (the emulator needs its port before it listens). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The emulator on a free port with its own state folder, and a stand-in for the app's
 * webhook route that records what it receives and answers 200. For the emulator's own tests,
 * which drive it with Clerk's SDKs.
 */
export async function startTestEmulator(options: Partial<ClerkEmulatorOptions> = {}) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "clerk-emulator-test-"));
  const received: ReceivedWebhook[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      received.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, resolve));
  const appUrl = `http://localhost:${(receiver.address() as AddressInfo).port}`;
  const running: RunningEmulator = await startClerkEmulator({ port: await freePort(), appUrl, stateDir, clerkJsDir: null, ...options });
  const { emulator } = running;
  return {
    ...running,
    received,
    control: new ClerkEmulatorControl(emulator.origin),
    /** Clerk's Backend API client pointed at the emulator, with its secret key unless told otherwise. */
    clerk: (secretKey = emulator.identity.secretKey) => createClerkClient({ secretKey, apiUrl: emulator.origin }),
    /** The webhook as the app's route would take it: a Web `Request`. */
    asRequest: (webhook: ReceivedWebhook) => {
      const headers = Object.entries(webhook.headers).filter(([name]) => name.startsWith("svix-") || name === "content-type");
      return new Request(`${appUrl}/api/webhooks/clerk`, { method: "POST", headers, body: webhook.body });
    },
    stop: async () => {
      await running.close();
      await new Promise((resolve) => receiver.close(resolve));
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export type TestEmulator = Awaited<ReturnType<typeof startTestEmulator>>;

/**
 * One emulator for a test file: started before its tests, stopped after them, and before each
 * test reset with its received webhooks cleared. `ready` receives it once started.
 */
export function withTestEmulator(ready: (emulator: TestEmulator) => void, options: Partial<ClerkEmulatorOptions> = {}) {
  let emulator: TestEmulator | undefined;
  beforeAll(async () => {
    emulator = await startTestEmulator(options);
    ready(emulator);
  });
  afterAll(() => emulator?.stop());
  beforeEach(async () => {
    await emulator!.control.reset();
    emulator!.received.length = 0;
  });
}
