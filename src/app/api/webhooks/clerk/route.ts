import { userSync } from "~/server/user-sync";

/**
 * Clerk's webhook endpoint (Svix deliveries). Public in src/proxy.ts: a delivery carries no
 * session, only its signature, which the plugin verifies over the raw body before anything else.
 */
export function POST(request: Request): Promise<Response> {
  return userSync.webhook.handle(request);
}
