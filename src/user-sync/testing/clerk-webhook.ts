import { Webhook } from "standardwebhooks";

import { clerkUserJson, type ClerkUserInput } from "./clerk-backend";

/*
 * Signed Clerk webhook deliveries, as Svix sends them: Clerk's envelope, the `svix-*` headers,
 * signed with `standardwebhooks` (as Clerk's own tests sign theirs).
 */

/** The URL `signedRequest` posts to (the handler does not read it; a host route test may). */
export const webhookUrl = "http://localhost:3000/api/webhooks/clerk";

/** The signing secret deliveries are signed with by default: `CLERK_WEBHOOK_SIGNING_SECRET` (throws when it is not set). */
export function testSigningSecret() {
  const secret = process.env.CLERK_WEBHOOK_SIGNING_SECRET;
  if (!secret) throw new Error("CLERK_WEBHOOK_SIGNING_SECRET is not set for the tests");
  return secret;
}

/** Clerk's webhook envelope (the delivery body). */
export type ClerkEventEnvelope = {
  type: string;
  object: "event";
  data: unknown;
  /** When the event happened in Clerk, milliseconds. */
  timestamp: number;
  instance_id?: string;
};

/** The Clerk instance id events carry by default (the one `createClerkBackend()` is). */
export const testInstanceId = "ins_test";

/** `user.created` / `user.updated` with Clerk's `UserJSON` data; event time = `updated_at`. */
export function userEvent(type: "user.created" | "user.updated", user: ClerkUserInput, instanceId = testInstanceId): ClerkEventEnvelope {
  return { type, object: "event", data: clerkUserJson(user), timestamp: user.updatedAtMs, instance_id: instanceId };
}

/** `user.deleted`: Clerk sends only `{ id, deleted, object }`, so the envelope time is the clock. */
export function deletedEvent(userId: string, timestampMs: number, instanceId = testInstanceId): ClerkEventEnvelope {
  return { type: "user.deleted", object: "event", data: { id: userId, deleted: true, object: "user" }, timestamp: timestampMs, instance_id: instanceId };
}

/** How a delivery is signed: its Svix message id, the secret, the attempt time. */
export type SignOptions = {
  svixId: string;
  secret?: string;
  /** Attempt time (the `svix-timestamp` header), seconds. Default: now. */
  attemptAtSeconds?: number;
};

/** The `svix-*` headers for `body`, signed as Svix signs. */
export function signedHeaders(body: string, options: SignOptions): Record<string, string> {
  const attemptAtSeconds = options.attemptAtSeconds ?? Math.floor(Date.now() / 1000);
  const signature = new Webhook(options.secret ?? testSigningSecret()).sign(options.svixId, new Date(attemptAtSeconds * 1000), body);
  return {
    "content-type": "application/json",
    "svix-id": options.svixId,
    "svix-timestamp": String(attemptAtSeconds),
    "svix-signature": signature,
  };
}

/** A signed delivery as a fresh `Request` (a body can be read once: build one per attempt). */
export function signedRequest(payload: ClerkEventEnvelope | string, options: SignOptions): Request {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return new Request(webhookUrl, { method: "POST", headers: signedHeaders(body, options), body });
}
