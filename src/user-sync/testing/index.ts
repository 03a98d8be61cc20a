/**
 * Test kit (`clerk-user-sync/testing`): the doubles the plugin's own tests use, for a host's
 * tests too. msw stand-ins for Clerk's Backend API (users, JWKS, the user list, profile writes),
 * Svix-signed webhook deliveries, session tokens the real `clerkMiddleware` verifies, and a test
 * `users` table. Needs `msw` (an optional peer dependency) and, per test run, `CLERK_API_URL`,
 * `CLERK_SECRET_KEY`, `CLERK_WEBHOOK_SIGNING_SECRET`, `CLERK_JWT_KEY` with
 * `TEST_CLERK_SESSION_PRIVATE_KEY` (its private half).
 */
export {
  clerkApiUrl,
  clerkUserJson,
  createClerkBackend,
  testSessionKeyId,
  type BackendFault,
  type BackendInstance,
  type ClerkBackend,
  type ClerkUserInput,
} from "./clerk-backend";
export { createClerkProfileBackend, type ClerkProfileBackend } from "./clerk-profile";
export {
  createClerkUserDirectory,
  otherInstanceKeyId,
  type ClerkUserDirectory,
  type DirectoryRequest,
  type DirectoryUser,
  type ListPage,
  type OffsetCost,
  type RateLimitFault,
  type UnknownCursor,
} from "./clerk-users-list";
export {
  deletedEvent,
  signedHeaders,
  signedRequest,
  testInstanceId,
  testSigningSecret,
  userEvent,
  webhookUrl,
  type ClerkEventEnvelope,
  type SignOptions,
} from "./clerk-webhook";
export { mintSessionToken } from "./clerk-session";
export { testSchema, testUsers, type TestUser } from "./users-table";
