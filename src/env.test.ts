/**
 * src/env.js: production refuses to start on the embedded database unless asked to, and
 * APP_URL is read as a list of origins. The startup error is proven on the real `next start`
 * (which loads next.config.mjs, which imports src/env.js); the other cases import the module.
 */
import { spawn } from "node:child_process";
import path from "node:path";

import { afterEach, describe, expect, it, vi } from "vitest";

const root = path.resolve(import.meta.dirname, "..");

/** Runs `next start` with exactly `env` (plus PATH) and resolves with its exit code and output. */
function nextStart(env: { NODE_ENV: "production" } & Record<string, string>): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "start", "-p", "0"], {
      cwd: root,
      // A build folder that does not exist: this must fail on its env, never serve anything.
      env: { PATH: process.env.PATH ?? "", NEXT_TELEMETRY_DISABLED: "1", NEXT_DIST_DIR: ".next-env-test", ...env },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, output });
    });
  });
}

const clerkEnv = { CLERK_SECRET_KEY: "sk_live_env_test_secret_value", NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: "pk_live_Y2xlcmsubW9jay50ZXN0JA" };

async function loadEnv(values: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(values)) vi.stubEnv(name, value);
  vi.resetModules();
  const { env } = await import("./env.js");
  return env;
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("DATABASE_URL in production", () => {
  it("next start with NODE_ENV=production and no DATABASE_URL exits with a clear error naming the variable, not the secrets", async () => {
    const { exitCode, output } = await nextStart({ ...clerkEnv, NODE_ENV: "production" });
    expect(exitCode).not.toBe(0);
    expect(output).toContain("DATABASE_URL is required when NODE_ENV=production");
    expect(output).toContain("ALLOW_EMBEDDED_DATABASE=true");
    expect(output).not.toContain(clerkEnv.CLERK_SECRET_KEY);
  });

  it("is refused on import too, and allowed by DATABASE_URL, by ALLOW_EMBEDDED_DATABASE=true, or outside production", async () => {
    const consoleError = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await expect(loadEnv({ ...clerkEnv, NODE_ENV: "production", DATABASE_URL: undefined, ALLOW_EMBEDDED_DATABASE: undefined })).rejects.toThrow("Invalid environment variables");
    expect(JSON.stringify(consoleError.mock.calls)).toContain("DATABASE_URL is required when NODE_ENV=production");
    await expect(loadEnv({ ...clerkEnv, NODE_ENV: "production", DATABASE_URL: undefined, ALLOW_EMBEDDED_DATABASE: "false" })).rejects.toThrow("Invalid environment variables");

    expect((await loadEnv({ ...clerkEnv, NODE_ENV: "production", DATABASE_URL: "postgres://postgres@db.internal:5432/app" })).DATABASE_URL).toBe("postgres://postgres@db.internal:5432/app");
    const optedIn = await loadEnv({ ...clerkEnv, NODE_ENV: "production", DATABASE_URL: undefined, ALLOW_EMBEDDED_DATABASE: "true" });
    expect(optedIn.DATABASE_URL).toBeUndefined();
    expect(optedIn.ALLOW_EMBEDDED_DATABASE).toBe(true);
    // `npm run demo` (next dev) and the tests keep the embedded default.
    expect((await loadEnv({ ...clerkEnv, NODE_ENV: "development", DATABASE_URL: undefined })).DATABASE_URL).toBeUndefined();
  });
});

describe("APP_URL", () => {
  it("is a comma-separated list reduced to origins, unset by default, and refuses a value that is not an http(s) URL", async () => {
    expect((await loadEnv({ ...clerkEnv, APP_URL: "https://app.example.com/dashboard, http://localhost:3000" })).APP_URL).toEqual(["https://app.example.com", "http://localhost:3000"]);
    expect((await loadEnv({ ...clerkEnv, APP_URL: undefined })).APP_URL).toBeUndefined();
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    await expect(loadEnv({ ...clerkEnv, APP_URL: "app.example.com" })).rejects.toThrow("Invalid environment variables");
    await expect(loadEnv({ ...clerkEnv, APP_URL: "ftp://app.example.com" })).rejects.toThrow("Invalid environment variables");
  });
});
