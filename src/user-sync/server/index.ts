import "server-only";

/**
 * `clerk-user-sync/server`: what a host needs. `createUserSync` (its options and the `UserSync`
 * it returns), the error vocabulary and its tRPC conversion, reconciliation's reports and
 * refusals, the health report and the profile schema. The webhook-only handler is
 * `clerk-user-sync/webhook`; the plugin's building blocks (for benchmarks, tests and custom
 * assemblies) are `clerk-user-sync/server/advanced`.
 *
 * @example
 * // CLERK_SECRET_KEY, CLERK_API_URL and CLERK_WEBHOOK_SIGNING_SECRET are read from the
 * // environment unless `clerk` / `webhook` say otherwise.
 * export const userSync = createUserSync({ db, users });
 * // The host's tRPC context must carry Clerk's `auth: await auth()`, or this does not compile.
 * export const appRouter = createTRPCRouter({ user: userSync.router(createTRPCRouter) });
 * // src/app/api/webhooks/clerk/route.ts
 * export const { POST } = userSync.webhook;
 * // src/app/api/admin/user-sync/health/route.ts
 * export const GET = (request: Request) => userSync.admin.health(request);
 */
export { createUserSync, type UserSync } from "./user-sync";
export type { UserSyncOptions } from "./options";
export { defaultClerkRequestsPer10s } from "./clerk/budget";
export { retryAfterSecondsOf, toTRPCError, userSyncErrorCodeOf, UserSyncError, type UserSyncErrorCode } from "./errors";
export { databaseErrorCode, type UserSyncDatabase } from "./database";
export type { UserSyncEvent } from "./events";
export type { UsersTable } from "./schema";
export type { MissingClerkAuth } from "./router";
export {
  ReconcileClerkError,
  ReconcileLeaseLostError,
  ReconcileLockedError,
  ReconcileRefusedError,
  type ReconcileMode,
  type ReconcileProgress,
  type ReconcileRefusalCode,
  type ReconcileReport,
  type ReconcileRequest,
  type ReconcileRunView,
} from "./reconcile";
export type { HealthProblem, HealthProblemCode, HealthReport } from "./operations/health-rules";
export type { HourlySeries } from "./operations/hourly";
export { fieldErrorsOf } from "./profile/router";
export { profileInputSchema, type ProfileInput } from "../shared/profile-input";
