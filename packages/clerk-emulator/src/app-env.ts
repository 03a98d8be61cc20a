import { fapiPrefix } from "./fapi";
import { defaultStateDir, loadIdentity } from "./identity";

/** The emulator's settings, from `CLERK_EMULATOR_PORT`, `CLERK_EMULATOR_APP_URL`, `CLERK_EMULATOR_STATE_DIR`. */
export type EmulatorConfig = { port: number; appUrl: string; stateDir: string };

export function readEmulatorConfig(env: NodeJS.ProcessEnv = process.env): EmulatorConfig {
  const port = Number(env.CLERK_EMULATOR_PORT ?? 4001);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`The emulator's port must be a number from 1 to 65535, not "${env.CLERK_EMULATOR_PORT}"`);
  const appUrl = env.CLERK_EMULATOR_APP_URL ?? "http://localhost:3000";
  if (!/^https?:\/\/[^/]+/.test(appUrl)) throw new Error(`The app URL must be an http(s) origin such as http://localhost:3000, not "${appUrl}"`);
  return { port, appUrl, stateDir: env.CLERK_EMULATOR_STATE_DIR ?? defaultStateDir };
}

/**
 * The environment a Next app needs to run against the emulator described by `config` (keys
 * are created on first use). `NEXT_PUBLIC_*` values are inlined by `next build`, so build with
 * the same values the server runs with.
 */
export function clerkEmulatorAppEnv(config: EmulatorConfig = readEmulatorConfig()): Record<string, string> {
  const identity = loadIdentity(config.stateDir);
  const emulatorUrl = `http://localhost:${config.port}`;
  return {
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: identity.publishableKey,
    CLERK_SECRET_KEY: identity.secretKey,
    CLERK_API_URL: emulatorUrl,
    CLERK_JWT_KEY: identity.publicKeyPem,
    NEXT_PUBLIC_CLERK_PROXY_URL: `${emulatorUrl}${fapiPrefix}`,
    NEXT_PUBLIC_CLERK_JS_URL: `${emulatorUrl}/clerk-js/clerk.browser.js`,
    // The prebuilt components (<SignIn/>, <UserButton/>, …) are @clerk/ui's bundle, which clerk-js 6 loads on its own.
    NEXT_PUBLIC_CLERK_UI_URL: `${emulatorUrl}/clerk-ui/ui.browser.js`,
    NEXT_PUBLIC_CLERK_SIGN_IN_URL: `${emulatorUrl}/sign-in`,
    NEXT_PUBLIC_CLERK_SIGN_UP_URL: `${emulatorUrl}/sign-up`,
    CLERK_WEBHOOK_SIGNING_SECRET: identity.webhookSigningSecret,
    CLERK_INSTANCE_ID: identity.instanceId,
    CLERK_TELEMETRY_DISABLED: "1",
    NEXT_PUBLIC_CLERK_TELEMETRY_DISABLED: "1",
    NEXT_PUBLIC_CLERK_KEYLESS_DISABLED: "1",
  };
}
