/**
 * Svix delivers in any order: every order of a user's history must end in the same state, and
 * emails moving between users (a swap, a re-signup after a deletion) must never fail a delivery.
 * Real PostgreSQL; each permutation has its own user id in one database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type ClerkEventEnvelope, type ClerkUserInput, deletedEvent, signedRequest, testUsers as users, userEvent } from "../../testing";
import { createTestDatabase, type TestDatabase } from "../test-database";

import { createClerkWebhookHandler } from "./handler";

let testDb: TestDatabase;
let webhook: ReturnType<typeof createClerkWebhookHandler>;

beforeAll(async () => {
  testDb = await createTestDatabase("webhook_ordering");
  webhook = createClerkWebhookHandler({
    db: () => Promise.resolve(testDb.db),
    users,
    signingSecret: process.env.CLERK_WEBHOOK_SIGNING_SECRET,
    log: () => undefined,
  });
});
afterAll(() => testDb.close());

type Step = { svixId: string; event: ClerkEventEnvelope };

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

async function withConcurrency<T>(count: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

/** Delivers the steps in order; returns the statuses that were not 200. */
async function deliver(steps: Step[], afterFirst?: () => Promise<unknown>): Promise<number[]> {
  const failures: number[] = [];
  for (const [index, step] of steps.entries()) {
    const response = await webhook.handle(signedRequest(step.event, { svixId: step.svixId }));
    if (response.status !== 200) failures.push(response.status);
    if (index === 0) await afterFirst?.();
  }
  return failures;
}

async function row(id: string) {
  const rows = await testDb.client<{ email: string | null; first_name: string | null; last_name: string | null; clerk_updated_at: string; deleted_at: unknown; tier: string }[]>`
    select email, first_name, last_name, clerk_updated_at::text, deleted_at, tier from users where id = ${id}`;
  return rows[0] ?? null;
}

function version(id: string, n: number): ClerkUserInput {
  return { id, email: `v${n}.${id}@example.com`, firstName: `First ${n}`, lastName: `Last ${n}`, updatedAtMs: n * 1000 };
}

describe("every order of one user's history", () => {
  it("converges to the tombstone: created, four updates, deleted (720 orders), app-owned tier untouched", async () => {
    const orders = permutations([0, 1, 2, 3, 4, 5]);
    const outcomes = await withConcurrency(
      12,
      orders.map((order, p) => async () => {
        const id = `user_pd_${p}`;
        const history: Step[] = [
          { svixId: `msg_${id}_0`, event: userEvent("user.created", version(id, 1)) },
          ...[2, 3, 4, 5].map((n) => ({ svixId: `msg_${id}_${n - 1}`, event: userEvent("user.updated", version(id, n)) })),
          { svixId: `msg_${id}_5`, event: deletedEvent(id, 6000) },
        ];
        // The app sets its own column between events; no event may touch it.
        const failures = await deliver(order.map((i) => history[i]!), () => testDb.client`update users set tier = 'PRO' where id = ${id}`);
        const final = await row(id);
        return (
          failures.length === 0 &&
          final !== null &&
          final.deleted_at !== null &&
          final.email === null &&
          final.first_name === null &&
          final.last_name === null &&
          final.tier === "PRO"
        );
      }),
    );
    const converged = outcomes.filter(Boolean).length;
    console.info(`${converged}/${orders.length} permutations converged to the tombstone (created + 4 updates + deleted)`);
    expect(converged).toBe(720);
  }, 120_000);

  it("converges to the newest state: created and five updates (720 orders), app-owned tier untouched", async () => {
    const orders = permutations([0, 1, 2, 3, 4, 5]);
    const outcomes = await withConcurrency(
      12,
      orders.map((order, p) => async () => {
        const id = `user_pu_${p}`;
        const history: Step[] = [1, 2, 3, 4, 5, 6].map((n) => ({
          svixId: `msg_${id}_${n}`,
          event: userEvent(n === 1 ? "user.created" : "user.updated", version(id, n)),
        }));
        const failures = await deliver(order.map((i) => history[i]!), () => testDb.client`update users set tier = 'PRO' where id = ${id}`);
        const final = await row(id);
        return (
          failures.length === 0 &&
          final?.deleted_at === null &&
          final.email === `v6.${id}@example.com` &&
          final.last_name === "Last 6" &&
          final.clerk_updated_at === "6000" &&
          final.tier === "PRO"
        );
      }),
    );
    const converged = outcomes.filter(Boolean).length;
    console.info(`${converged}/${orders.length} permutations converged to the newest state (created + 5 updates)`);
    expect(converged).toBe(720);
  }, 120_000);
});

describe("emails moving between users, in every order", () => {
  it("a swap through a temporary address (120 orders): final emails swapped, never a failed delivery", async () => {
    const orders = permutations([0, 1, 2, 3, 4]);
    const outcomes = await withConcurrency(
      12,
      orders.map((order, p) => async () => {
        const a = `user_swap_a_${p}`;
        const b = `user_swap_b_${p}`;
        const emailA = `first.${p}@example.com`;
        const emailB = `second.${p}@example.com`;
        // Clerk holds an address on one account at a time, so a swap passes through a temporary one.
        const history: Step[] = [
          { svixId: `msg_${a}_1`, event: userEvent("user.created", { id: a, email: emailA, updatedAtMs: 1000 }) },
          { svixId: `msg_${b}_1`, event: userEvent("user.created", { id: b, email: emailB, updatedAtMs: 1000 }) },
          { svixId: `msg_${a}_2`, event: userEvent("user.updated", { id: a, email: `tmp.${p}@example.com`, updatedAtMs: 2000 }) },
          { svixId: `msg_${b}_2`, event: userEvent("user.updated", { id: b, email: emailA, updatedAtMs: 3000 }) },
          { svixId: `msg_${a}_3`, event: userEvent("user.updated", { id: a, email: emailB, updatedAtMs: 4000 }) },
        ];
        const failures = await deliver(order.map((i) => history[i]!));
        return failures.length === 0 && (await row(a))?.email === emailB && (await row(b))?.email === emailA;
      }),
    );
    const converged = outcomes.filter(Boolean).length;
    console.info(`${converged}/${orders.length} email-swap orders converged`);
    expect(converged).toBe(orders.length);
  });

  it("a deleted user's address re-used by a new sign-up (24 orders, then all at once): the new user owns it", async () => {
    const orders = permutations([0, 1, 2, 3]);
    const run = async (p: number, order: number[], deliverSteps: (steps: Step[]) => Promise<number[]>) => {
      const a = `user_old_${p}`;
      const b = `user_new_${p}`;
      const email = `reused.${p}@example.com`;
      const history: Step[] = [
        { svixId: `msg_${a}_1`, event: userEvent("user.created", { id: a, email, firstName: "Old", updatedAtMs: 1000 }) },
        { svixId: `msg_${a}_2`, event: userEvent("user.updated", { id: a, email, firstName: "Older", updatedAtMs: 2000 }) },
        { svixId: `msg_${a}_3`, event: deletedEvent(a, 3000) },
        { svixId: `msg_${b}_1`, event: userEvent("user.created", { id: b, email, firstName: "New", updatedAtMs: 4000 }) },
      ];
      const failures = await deliverSteps(order.map((i) => history[i]!));
      const owners = await testDb.client<{ id: string }[]>`select id from users where lower(email) = lower(${email}) and deleted_at is null`;
      const old = await row(a);
      return failures.length === 0 && owners.length === 1 && owners[0]?.id === b && old?.email === null && old.deleted_at !== null;
    };
    const sequential = await withConcurrency(12, orders.map((order, p) => () => run(p, order, (steps) => deliver(steps))));
    const concurrent = await withConcurrency(
      4,
      Array.from({ length: 24 }, (_, p) => () =>
        run(100 + p, [0, 1, 2, 3], async (steps) => {
          const responses = await Promise.all(steps.map((step) => webhook.handle(signedRequest(step.event, { svixId: step.svixId }))));
          return responses.filter((r) => r.status !== 200).map((r) => r.status);
        }),
      ),
    );
    const converged = [...sequential, ...concurrent].filter(Boolean).length;
    console.info(`${converged}/${sequential.length + concurrent.length} delete-then-re-signup runs converged (24 orders + 24 concurrent)`);
    expect(converged).toBe(48);
    expect(webhook.counts().failed).toBe(0);
  });
});
