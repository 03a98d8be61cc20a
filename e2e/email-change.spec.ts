import type { WebhookSwitches } from "clerk-user-sync-emulator";

import { expect, signIn, syncStatus, test } from "./support/fixtures";

/**
 * A user changes their primary email in Clerk in steps, each its own `user.updated`: the new
 * address is added unverified, verified, made primary, and here the old one is then deleted (a
 * fourth step the user takes; Clerk keeps it otherwise). Whatever order the webhooks arrive in,
 * the mirror must end on the verified new address.
 */
const orders: { name: string; switches: Partial<WebhookSwitches> }[] = [
  { name: "in order", switches: {} },
  { name: "newest first", switches: { reorder: true, releaseOrder: "newest-first" } },
  { name: "shuffled", switches: { reorder: true, releaseOrder: "shuffled" } },
  { name: "newest first, each twice", switches: { reorder: true, releaseOrder: "newest-first", duplicate: true } },
];

for (const order of orders) {
  test(`g. a primary email change made in Clerk reaches the dashboard through webhooks (${order.name})`, async ({ page, emulator, db }, testInfo) => {
    await signIn(page, "user_demo_ada");
    await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
    await expect(page.getByTestId("user-email")).toHaveText("ada@example.com");

    await emulator.setWebhooks(order.switches);
    const { user, deliveries } = await emulator.changePrimaryEmail("user_demo_ada", "augusta@example.com", { deleteOld: true });
    expect(deliveries.map((d) => d.type)).toEqual(["user.updated", "user.updated", "user.updated", "user.updated"]);
    expect(user.email_addresses.map((a) => [a.email_address, a.verification.status])).toEqual([["augusta@example.com", "verified"]]);
    if (order.switches.reorder) await emulator.setWebhooks({ reorder: false });

    const sent = (await emulator.webhooksIdle()).filter((d) => d.type === "user.updated");
    expect(sent.every((d) => d.status === "delivered")).toBe(true);
    const steps = deliveries.map((d) => d.id);
    const arrival = [...sent].sort((a, b) => a.attempts[0]!.atMs - b.attempts[0]!.atMs).map((d) => steps.indexOf(d.id) + 1);
    testInfo.annotations.push({ type: "arrival order (steps)", description: arrival.join(",") });
    if (order.switches.releaseOrder === "newest-first") expect(arrival).toEqual(order.switches.duplicate ? [4, 4, 3, 3, 2, 2, 1, 1] : [4, 3, 2, 1]);

    await expect.poll(async () => (await db.userRow("user_demo_ada"))?.email).toBe("augusta@example.com");
    expect(Number((await db.userRow("user_demo_ada"))?.clerk_updated_at)).toBe(user.updated_at);

    // A reload in the same session reads the row (no sync): the webhooks alone brought the change.
    await page.reload();
    await expect(page.getByTestId("user-email")).toHaveText("augusta@example.com");
    await expect(page.getByTestId("user-name")).toHaveText("Ada Lovelace");
    expect(await emulator.count("getUser")).toBe(1);
  });
}

/**
 * Clerk keeps the old address unless the user deletes it, so the primary switch is the last
 * step. Adding and verifying leave the user's `updated_at` (recorded / the emulator's default),
 * so that switch's `user.updated` is the only one carrying the new primary; whether it moves
 * `updated_at` is unknown (the emulator's `primarySwitchBumpsClock`). When it does not, the
 * payload has the clock the mirror already holds with another email: the plugin settles it with
 * one fetch of the user (a second `getUser` beside the sign-in's).
 */
for (const primarySwitchBumpsClock of [true, false]) {
  test(`g2. a primary switch whose old address Clerk keeps reaches the mirror through webhooks alone (switch ${primarySwitchBumpsClock ? "moves" : "does not move"} updated_at)`, async ({
    page,
    emulator,
    db,
  }) => {
    await signIn(page, "user_demo_ada");
    await expect(syncStatus(page)).toHaveAttribute("data-status", "synced");
    await emulator.setFidelity({ primarySwitchBumpsClock });
    const { user, deliveries } = await emulator.changePrimaryEmail("user_demo_ada", "augusta@example.com");
    expect(deliveries).toHaveLength(3);
    expect(user.email_addresses.map((a) => a.email_address)).toEqual(["ada@example.com", "augusta@example.com"]);
    expect((await emulator.webhooksIdle()).every((d) => d.status === "delivered")).toBe(true);

    await expect.poll(async () => (await db.userRow("user_demo_ada"))?.email).toBe("augusta@example.com");
    await page.reload();
    await expect(page.getByTestId("user-email")).toHaveText("augusta@example.com");
    expect(await emulator.count("getUser")).toBe(primarySwitchBumpsClock ? 1 : 2);
  });
}
