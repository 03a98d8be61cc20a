/**
 * The benchmark's raw floor: the same two jobs as the bare floor (`bare-floor.ts`) with nothing
 * between the HTTP server and the database but plain postgres.js tagged templates: no ORM, no
 * tRPC, no plugin code, the minimum SQL for the same guarantees, and the app's pool size.
 *
 * - `POST /sync` (P3, beside `user.sync`): verify the RS256 session token with `jose` (nothing
 *   else), one `GET /v1/users/:id` to the Backend API, one guarded upsert: applied only when
 *   Clerk's `updated_at` is newer than the stored clock, never over a tombstone.
 * - `POST /webhook` (P5, beside `/api/webhooks/clerk`): verify with `standardwebhooks`, then one
 *   statement that inserts the inbox row and, when that svix-id is new, applies the same guarded
 *   upsert (a redelivery writes nothing).
 *
 * Settings (env): BENCH_RAW_FLOOR_PORT, DATABASE_URL, CLERK_API_URL, CLERK_SECRET_KEY,
 * CLERK_JWT_KEY, CLERK_WEBHOOK_SIGNING_SECRET. Prints "listening" when ready; stops on SIGTERM.
 */
import type http from "node:http";

import postgres from "postgres";

import { fetchSignedInUser, floorSettings, send, serveFloor, verifiedDelivery } from "./serve";

const port = Number(process.env.BENCH_RAW_FLOOR_PORT ?? 3422);
const settings = await floorSettings("raw floor");
// The app's pool size (src/server/db/index.ts).
const sql = postgres(settings.databaseUrl, { max: 10, onnotice: () => undefined });

type ClerkUser = {
  id: string;
  primary_email_address_id: string | null;
  email_addresses: { id: string; email_address: string }[];
  primary_phone_number_id?: string | null;
  phone_numbers?: { id: string; phone_number: string }[];
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  banned?: boolean;
  locked?: boolean;
  updated_at: number;
};

/** The mirrored columns of a Backend API user, in the users table's names. */
function columnsOf(user: ClerkUser) {
  return {
    id: user.id,
    email: user.email_addresses.find((e) => e.id === user.primary_email_address_id)?.email_address ?? null,
    phone_number: user.phone_numbers?.find((p) => p.id === user.primary_phone_number_id)?.phone_number ?? null,
    first_name: user.first_name,
    last_name: user.last_name,
    username: user.username,
    image_url: user.image_url,
    banned: user.banned ?? false,
    locked: user.locked ?? false,
    clerk_updated_at: user.updated_at,
  };
}

type Columns = ReturnType<typeof columnsOf>;

// The insert's column list and its values, the same for both routes.
const insertInto = sql`insert into users (id, email, phone_number, first_name, last_name, username, image_url, banned, locked, clerk_updated_at, last_synced_at, last_sync_outcome)`;
const valuesOf = (u: Columns) =>
  sql`${u.id}, ${u.email}, ${u.phone_number}, ${u.first_name}, ${u.last_name}, ${u.username}, ${u.image_url}, ${u.banned}, ${u.locked}, ${u.clerk_updated_at}, now(), 'created'`;

// ON CONFLICT: a newer Clerk clock on a live row writes; an equal or older one, or a tombstone, does not.
const guardedUpdate = sql`
  on conflict (id) do update set
    email = excluded.email, phone_number = excluded.phone_number, first_name = excluded.first_name,
    last_name = excluded.last_name, username = excluded.username, image_url = excluded.image_url,
    banned = excluded.banned, locked = excluded.locked, clerk_updated_at = excluded.clerk_updated_at,
    updated_at = now(), last_synced_at = now(), last_sync_outcome = 'updated'
  where users.deleted_at is null and users.clerk_updated_at < excluded.clerk_updated_at`;

async function sync(req: http.IncomingMessage, res: http.ServerResponse) {
  const json = await fetchSignedInUser(req, res, settings);
  if (json === null) return;
  const user = columnsOf(json as ClerkUser);
  const written = await sql`${insertInto} values (${valuesOf(user)}) ${guardedUpdate} returning id`;
  send(res, 200, { written: written.length > 0 });
}

async function webhook(req: http.IncomingMessage, res: http.ServerResponse) {
  const delivery = await verifiedDelivery(req, res, settings);
  if (!delivery) return;
  if (delivery.type !== "user.created" && delivery.type !== "user.updated") return send(res, 200, { outcome: "ignored" });
  const user = columnsOf(delivery.data as ClerkUser);
  // Data-modifying CTEs share one snapshot: the upsert runs only when this delivery's inbox row is new.
  const written = await sql`
    with inbox as (
      insert into clerk_webhook_events (svix_id, event_type, clerk_user_id, event_timestamp_ms, outcome, processed_at)
      values (${delivery.svixId}, ${delivery.type}, ${user.id}, ${delivery.timestamp}, 'applied', clock_timestamp())
      on conflict (svix_id) do nothing
      returning svix_id)
    ${insertInto} select ${valuesOf(user)} from inbox
    ${guardedUpdate} returning id`;
  send(res, 200, { written: written.length > 0 });
}

serveFloor({
  floor: "raw floor",
  port,
  sync,
  webhook,
  describe: (error) => {
    // The SQLSTATE and message only: never a query's parameters (PII).
    const { code, message } = error as { code?: string; message?: string };
    return `${code ?? ""} ${message ?? "error"}`;
  },
  close: () => sql.end({ timeout: 2 }),
});
