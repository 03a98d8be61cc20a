import path from "node:path";

import { generateKeyPairSync } from "node:crypto";

import { defineConfig } from "vitest/config";

// A session-signing key made for this run only: the real clerkMiddleware verifies tokens the
// tests mint with it, networkless (CLERK_JWT_KEY), exactly as in production.
const sessionKeys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicExponent: 65537,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

export default defineConfig({
  resolve: {
    alias: {
      "~": path.resolve(import.meta.dirname, "src"),
      // The repository's test infrastructure (test/), beside the app and the plugin.
      "#test": path.resolve(import.meta.dirname, "test"),
      "server-only": path.resolve(import.meta.dirname, "test/server-only-stub.ts"),
    },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}", "scripts/**/*.test.ts", "packages/*/src/**/*.test.ts", "packages/*/contract/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup.ts"],
    // Logs of passing tests are noise; a failing test still shows its own.
    silent: "passed-only",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    env: {
      NODE_ENV: "test",
      // Production-type key for the frontend API clerk.mock.test: no dev-browser handshake.
      NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: "pk_live_Y2xlcmsubW9jay50ZXN0JA",
      CLERK_SECRET_KEY: "sk_live_vitest_secret_key",
      // msw answers for Clerk's Backend API here (the test kit, src/user-sync/testing/clerk-backend.ts).
      CLERK_API_URL: "https://api.clerk.test",
      CLERK_JWT_KEY: sessionKeys.publicKey,
      TEST_CLERK_SESSION_PRIVATE_KEY: sessionKeys.privateKey,
      CLERK_WEBHOOK_SIGNING_SECRET: "whsec_dGVzdC1zaWduaW5nLXNlY3JldC0zMi1ieXRlcy1sb25nIQ==",
      CLERK_TELEMETRY_DISABLED: "1",
      NEXT_PUBLIC_CLERK_TELEMETRY_DISABLED: "1",
      NEXT_PUBLIC_CLERK_KEYLESS_DISABLED: "1",
      USER_SYNC_COOLDOWN_SECONDS: "0",
    },
  },
});
