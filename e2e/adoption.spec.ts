/**
 * Adoption by a stranger: `e2e/fixtures/t3-host`, a create-t3-app project with Clerk, installs
 * the plugin's `npm pack` tarball and adds only what the README's "Add it to your app" says. Its
 * production build runs on its own port and database against this run's Clerk emulator.
 */
import postgres from "postgres";

import { expect, test } from "./support/fixtures";
import { emulatorUrl } from "./support/settings";
import { prepareT3Host, startT3Host, t3HostDatabaseUrl, t3HostUrl, type T3HostServer } from "./support/t3-host";

type T3HostUserRow = { id: string; email: string | null; first_name: string | null; deleted_at: Date | null; deleted_by: string | null; bio: string | null };

let server: T3HostServer | undefined;
let sql: postgres.Sql | undefined;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  // Pack, install from npm's cache, next build, next start: minutes on a shared 2-core machine.
  test.setTimeout(900_000);
  const { timings, tarball } = await prepareT3Host();
  console.log(`[t3-host] ${tarball.filename}: ${tarball.size} bytes, ${tarball.entryCount} files; ms per step: ${JSON.stringify(timings)}`);
  server = await startT3Host(120_000);
  sql = postgres(t3HostDatabaseUrl, { max: 2, onnotice: () => undefined });
});

test.afterAll(async () => {
  server?.stop();
  await sql?.end();
});

async function userRow(id: string) {
  return (await sql!<T3HostUserRow[]>`select * from "t3-host_user" where id = ${id}`)[0] ?? null;
}

test("t3 host with the packed plugin: sign-in syncs the row, a reload calls Clerk no more, a signed webhook deletion tombstones it", async ({ page, emulator }) => {
  // The emulator plays Svix for this app now (the fixture resets it afterwards).
  await emulator.setWebhooks({ url: `${t3HostUrl}/api/webhooks/clerk` });

  await page.goto(t3HostUrl);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${emulatorUrl}/sign-in**`);
  await page.locator(`button[data-user-id="user_demo_ada"]`).click();
  await page.waitForURL(`${t3HostUrl}/**`);
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-email")).toHaveText("ada@example.com");
  expect(await userRow("user_demo_ada")).toMatchObject({ email: "ada@example.com", first_name: "Ada", deleted_at: null, bio: null });
  expect(await emulator.count("getUser")).toBe(1);

  // Same session: the provider reads user.me from the database; Clerk is not asked again.
  await page.reload();
  await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
  await expect(page.getByTestId("user-email")).toHaveText("ada@example.com");
  expect(await emulator.count("getUser")).toBe(1);

  await emulator.deleteUser("user_demo_ada");
  const deleted = (await emulator.webhooksIdle()).find((delivery) => delivery.type === "user.deleted");
  expect(deleted).toMatchObject({ status: "delivered", userId: "user_demo_ada" });
  await expect.poll(async () => (await userRow("user_demo_ada"))?.deleted_at ?? null).not.toBeNull();
  expect(await userRow("user_demo_ada")).toMatchObject({ email: null, first_name: null, deleted_by: "webhook" });
});
