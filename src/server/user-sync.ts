import "server-only";

import { after } from "next/server";

import { env } from "~/env";
import { getDb } from "~/server/db";
import { users } from "~/server/db/schema";
import { onShutdown } from "~/server/shutdown";
import { createUserSync, defaultClerkRequestsPer10s } from "clerk-user-sync/server";

/** The host's instance of the user sync plugin. */
export const userSync = createUserSync({
  db: getDb,
  users,
  clerk: { secretKey: env.CLERK_SECRET_KEY, apiUrl: env.CLERK_API_URL },
  cooldownSeconds: env.USER_SYNC_COOLDOWN_SECONDS,
  clerkTimeoutMs: env.USER_SYNC_CLERK_TIMEOUT_MS,
  // Every write attempt is counted in PostgreSQL (user_sync_write_stats, the console's charts);
  // the log gets the failures only, not a line per sync (it showed in the CPU profile).
  onEvent: (event) => {
    if (event.outcome === "error") console.warn("user-sync", JSON.stringify(event));
  },
  clerkBudget: {
    requestsPer10s: env.USER_SYNC_CLERK_REQUESTS_PER_10S ?? defaultClerkRequestsPer10s(env.CLERK_SECRET_KEY),
    reconcileShare: env.USER_SYNC_RECONCILE_BUDGET_SHARE,
  },
  // /api/admin/user-sync/*: Bearer ADMIN_API_KEY (or ADMIN_API_KEY_PREVIOUS during a rotation); unset → 503.
  admin: { apiKey: env.ADMIN_API_KEY, previousApiKey: env.ADMIN_API_KEY_PREVIOUS },
  // Clerk's count and users' admin roles are read at most once per period by all instances together.
  health: { clerkCountCacheMs: env.USER_SYNC_CLERK_COUNT_CACHE_SECONDS * 1000 },
  // Each run proves the Backend API is CLERK_INSTANCE_ID's instance before it writes (unset: the
  // instance of the sessions user.sync verified); a larger deletion than the guard allows is refused.
  reconcile: {
    instanceId: env.CLERK_INSTANCE_ID,
    maxDeletions: env.USER_SYNC_RECONCILE_MAX_DELETIONS,
    leaseSeconds: env.USER_SYNC_RECONCILE_LEASE_SECONDS,
  },
  adminRole: { cacheSeconds: env.USER_SYNC_ADMIN_ROLE_CACHE_SECONDS },
  // Telemetry flushes and the webhook inbox prune run after the response, where the platform
  // waits for them (serverless functions are frozen once their response and after() work end).
  schedule: (task) => after(task),
  webhook: {
    // Unset: /api/webhooks/clerk answers 503 (Svix keeps retrying until it is configured).
    signingSecret: env.CLERK_WEBHOOK_SIGNING_SECRET,
    instanceId: env.CLERK_INSTANCE_ID,
    retentionDays: env.USER_SYNC_WEBHOOK_RETENTION_DAYS,
  },
});

// What is still buffered (counted outside a request) is written before the process ends.
if (process.env.NEXT_RUNTIME === "nodejs") onShutdown(async () => userSync.telemetry?.close());
