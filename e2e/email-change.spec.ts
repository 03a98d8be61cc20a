import type { WebhookSwitches } from "clerk-user-sync-emulator";

import { expect, signIn, syncStatus, test } from "./support/fixtures";

/**
 * Clerk changes a primary email in four steps, each its own `user.updated`: the new address is
 * added unverified, verified, made primary, then the old one is deleted. Whatever order the
 * webhooks arrive in, the mirror must end on the verified new address.
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
    const { user, deliveries } = await emulator.changePrimaryEmail("user_demo_ada", "augusta@example.com");
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
