/**
 * `clerk-user-sync-emulator`: a local stand-in for Clerk (Backend API, Frontend API, sign-in
 * page, Svix-signed webhooks, control API) for Next.js + Clerk apps in development and tests.
 * Run it with `npx clerk-emulator --app-url http://localhost:3000`; start it in-process with
 * `startClerkEmulator`; drive it from tests with `ClerkEmulatorControl`.
 */
export { clerkEmulatorAppEnv, readEmulatorConfig, type EmulatorConfig } from "./app-env";
export { ensureClerkBundles, type ClerkBundleDirs } from "./clerk-js-bundle";
export { ClerkEmulatorControl, type ControlUserInput, type ControlUserPatch } from "./control-client";
export type { BackendInstance, ClerkEmulatorOptions } from "./emulator";
export { bapiEndpoints, type BapiEndpoint, type BapiFault } from "./faults";
export { defaultFidelity, fidelityFromEnv, unknownSwitches, type FidelitySettings } from "./fidelity";
export { loadIdentity, type EmulatorIdentity } from "./identity";
export { mintSessionToken, signJwt } from "./jwt";
export { rateLimitsFromEnv, type RateLimitSettings } from "./rate-limits";
export { startClerkEmulator, type RunningEmulator } from "./server";
export type { UserJson } from "./users";
export type { Delivery, WebhookSwitches } from "./webhooks";
