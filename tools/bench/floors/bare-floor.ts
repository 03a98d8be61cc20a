/**
 * The benchmark's bare floor: the least a plain `node:http` server needs to do the product's two
 * jobs, on the same machine, database and Clerk stand-in, so `npm run bench` can show what the
 * product costs on top of the work itself.
 *
 * - `POST /sync` (P3, beside `user.sync`): verify the RS256 session token in `Authorization:
 *   Bearer` with `jose`, one `GET /v1/users/:id` to the Backend API, the plugin's own guarded
 *   upsert (`upsertClerkUser`, "fetched") through drizzle on postgres.js.
 * - `POST /webhook` (P5, beside `/api/webhooks/clerk`): verify with `standardwebhooks`, then the
 *   same upsert ("pushed") and the inbox row in one transaction.
 *
 * Settings (env): BENCH_FLOOR_PORT, DATABASE_URL, CLERK_API_URL, CLERK_SECRET_KEY, CLERK_JWT_KEY,
 * CLERK_WEBHOOK_SIGNING_SECRET. Prints "listening" when ready; stops on SIGTERM.
 */
import type http from "node:http";

import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

import * as schema from "~/server/db/schema";
import { clerkWebhookEvents } from "clerk-user-sync/schema";
import { snapshotFromUserJson, syncedTableOf, upsertClerkUser } from "clerk-user-sync/server/advanced";

import { fetchSignedInUser, floorSettings, send, serveFloor, verifiedDelivery } from "./serve";

const port = Number(process.env.BENCH_FLOOR_PORT ?? 3421);
const settings = await floorSettings("bare floor");
// The app's pool size (src/server/db/index.ts), so the floor is not faster by having more connections.
const client = postgres(settings.databaseUrl, { max: 10, onnotice: () => undefined });
const db = drizzle({ client, schema });
const table = syncedTableOf(schema.users);

async function sync(req: http.IncomingMessage, res: http.ServerResponse) {
  const user = await fetchSignedInUser(req, res, settings);
  if (user === null) return;
  const { outcome, row } = await upsertClerkUser(db, table, snapshotFromUserJson(user), "fetched");
  send(res, 200, { outcome, user: row });
}

async function webhook(req: http.IncomingMessage, res: http.ServerResponse) {
  const delivery = await verifiedDelivery(req, res, settings);
  if (!delivery) return;
  const snapshot = snapshotFromUserJson(delivery.data);
  const outcome = await db.transaction(async (tx) => {
    const { outcome: written } = await upsertClerkUser(tx, table, snapshot);
    await tx
      .insert(clerkWebhookEvents)
      .values({
        svixId: delivery.svixId,
        eventType: delivery.type,
        clerkUserId: snapshot.id,
        eventTimestampMs: delivery.timestamp,
        outcome: written,
        receivedAt: new Date(),
        processedAt: sql`clock_timestamp()`,
      })
      .onConflictDoNothing({ target: clerkWebhookEvents.svixId });
    return written;
  });
  send(res, 200, { outcome });
}

serveFloor({
  floor: "bare floor",
  port,
  sync,
  webhook,
  describe: (error) => {
    // The cause's SQLSTATE and message only: drizzle's own message carries the query's parameters (PII).
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `${cause?.code ?? ""} ${cause?.message ?? (error instanceof Error ? error.name : "error")}`;
  },
  close: () => client.end({ timeout: 2 }),
});
