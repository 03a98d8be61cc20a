import { randomBytes } from "node:crypto";

import { signJwt, type UserJson } from "clerk-user-sync-emulator";

import { load } from "./load";
import type { Stack } from "./stack";

const seeded = new WeakMap<Stack, UserJson[]>();

/** `count` users seeded in the emulator with its bulk import (no webhooks), as the Backend API serves them. */
export async function benchUsers(stack: Stack, count: number): Promise<UserJson[]> {
  const existing = seeded.get(stack) ?? [];
  if (existing.length < count) {
    await stack.emulator.createUsersInBulk(count - existing.length, `bench${existing.length}`);
    const all = await stack.emulator.users();
    const users = all.filter((user) => user.email_addresses.some((address) => address.email_address.startsWith("bench")));
    seeded.set(stack, users);
  }
  return seeded.get(stack)!.slice(0, count);
}

/**
 * A session token for `userId` as the emulator's sign-in mints them (same key, claims and `azp`),
 * valid for an hour so a long run does not need refreshes.
 */
export function sessionTokenFor(stack: Stack, userId: string): string {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return signJwt(stack.identity, {
    azp: stack.appUrl,
    exp: nowSeconds + 3600,
    fva: [0, -1],
    iat: nowSeconds,
    iss: `https://${stack.identity.frontendApi}`,
    jti: randomBytes(10).toString("hex"),
    nbf: nowSeconds - 10,
    sid: `sess_bench_${userId}`,
    sts: "active",
    sub: userId,
    v: 2,
  });
}

/**
 * Every one of `users` signs in at the emulator (its control API's `POST /sessions`, the sign-in
 * page's effect without the page): Clerk's `updated_at` moves on each, as on every real sign-in,
 * and no webhook is sent. Through the load generator, 16 at a time.
 */
export async function signInAll(stack: Stack, users: readonly { id: string }[]): Promise<void> {
  let next = 0;
  const result = await load({
    url: stack.emulator.origin,
    connections: Math.min(16, users.length),
    amount: users.length,
    next: () => ({
      method: "POST",
      path: "/__control/sessions",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: users[next++ % users.length]!.id }),
    }),
  });
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`signing ${users.length} bench users in at the emulator: ${failed} failed`);
}
