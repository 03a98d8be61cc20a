/**
 * Adoption by a stranger, in today's create-t3-app: the app `create-t3-app` 7.40 generates, with
 * Clerk added as Clerk's quickstart says, as generated (Next 15, drizzle-orm 0.41, zod 3) and
 * upgraded to Next 16, installs the plugin's `npm pack` tarball with a plain `npm install`,
 * builds without any Clerk key, pushes its schema with the template's own drizzle.config.ts (its
 * `tablesFilter` untouched) twice, and runs the journey against this run's Clerk emulator.
 */
import fs from "node:fs";
import path from "node:path";

import postgres from "postgres";

import type { Page } from "@playwright/test";

import { expect, test } from "./support/fixtures";
import { emulatorUrl } from "./support/settings";
import { prepareT3Host, startT3Host, t3Host, type PushRun, type T3HostServer, type T3Variant } from "./support/t3-host";

type T3UserRow = { id: string; email: string | null; first_name: string | null; deleted_at: Date | null; deleted_by: string | null; bio: string | null };

/** The template's own identity column: drizzle-kit 0.30 re-emits this on every push (drizzle-team/drizzle-orm#3679), plugin or not. */
const templateIdentityRepush = 'ALTER TABLE "t3-host_post" ALTER COLUMN "id" SET CACHE 1';

const pluginTables = [
  "t3-host_user",
  "t3-host_clerk_webhook_events",
  "t3-host_user_sync_clerk_budget",
  "t3-host_user_sync_clerk_fetches",
  "t3-host_user_sync_reconcile_runs",
  "t3-host_user_sync_reconcile_seen",
  "t3-host_user_sync_write_stats",
];

for (const variant of ["next15", "next16"] as const satisfies T3Variant[]) {
  test.describe(`create-t3-app 7.40 with Clerk, ${variant === "next15" ? "as generated (Next 15)" : "upgraded to Next 16"}`, () => {
    test.describe.configure({ mode: "serial" });
    const host = t3Host(variant);
    let server: T3HostServer | undefined;
    let sql: postgres.Sql | undefined;
    let pushes: PushRun[] = [];
    let installOutput = "";

    test.beforeAll(async () => {
      // Lay out, pack, install, build, push: minutes on a shared 2-core machine (the first install of a variant most).
      test.setTimeout(1_200_000);
      const prepared = await prepareT3Host(host);
      pushes = prepared.pushes;
      installOutput = prepared.install.output;
      console.log(
        `[t3-${variant}] ${prepared.tarball.filename}: ${prepared.tarball.size} bytes, ${prepared.tarball.entryCount} files; ms per step: ${JSON.stringify(prepared.timings)}`,
      );
      server = await startT3Host(host, 120_000);
      sql = postgres(host.databaseUrl, { max: 2, onnotice: () => undefined });
    });

    test.afterAll(async () => {
      server?.stop();
      await sql?.end();
    });

    /** `<SignInButton/>`, then a pick on the emulator's sign-in page, back to the host's page, synced. */
    async function signInOnHost(page: Page, userId: string) {
      await page.goto(host.url);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${emulatorUrl}/sign-in**`);
      await page.locator(`button[data-user-id="${userId}"]`).click();
      await page.waitForURL(`${host.url}/**`);
      await expect(page.getByTestId("sync-status")).toHaveAttribute("data-status", "synced");
    }

    async function userRow(id: string) {
      return (await sql!<T3UserRow[]>`select * from "t3-host_user" where id = ${id}`)[0] ?? null;
    }

    test("a plain npm install takes the packed plugin beside the variant's own Next, drizzle-orm and zod, with no peer conflict", () => {
      // prepareT3Host throws on a failing install or build (the build ran with no Clerk variable).
      expect(installOutput).not.toMatch(/ERESOLVE|peer dep|invalid/i);
      const installed = (name: string) => (JSON.parse(fs.readFileSync(path.join(host.appDir, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
      const plugin = JSON.parse(fs.readFileSync(path.join(host.appDir, "node_modules/clerk-user-sync/package.json"), "utf8")) as { peerDependencies: unknown };
      expect(plugin.peerDependencies).toEqual((JSON.parse(fs.readFileSync("src/user-sync/package.json", "utf8")) as { peerDependencies: unknown }).peerDependencies);
      const versions = Object.fromEntries(["next", "drizzle-orm", "drizzle-kit", "zod", "@clerk/nextjs", "@trpc/server", "@tanstack/react-query", "react"].map((name) => [name, installed(name)]));
      console.log(`[t3-${variant}] installed: ${JSON.stringify(versions)}`);
      expect(versions.next).toMatch(variant === "next15" ? /^15\./ : /^16\./);
      expect(versions["drizzle-orm"]).toMatch(/^0\.41\./);
      expect(versions.zod).toMatch(/^3\./);
      expect(versions["@clerk/nextjs"]).toMatch(/^7\./);
    });

    test("drizzle-kit push with the template's tablesFilter creates the plugin's tables under the prefix; a second push changes none of them", async () => {
      const [first, second] = pushes;
      expect(first!.code, first!.output).toBe(0);
      expect(second!.code, second!.output).toBe(0);
      for (const push of pushes) expect(push.output).not.toMatch(/already exists/i);
      const tables = await sql!<{ tablename: string }[]>`select tablename from pg_tables where schemaname = 'public' order by tablename`;
      expect(tables.map((table) => table.tablename)).toEqual(expect.arrayContaining(pluginTables));
      expect(tables.filter((table) => !table.tablename.startsWith("t3-host_"))).toEqual([]);
      expect(first!.statements, first!.output).toEqual(expect.arrayContaining([expect.stringMatching(/^CREATE TABLE "t3-host_user_sync_clerk_fetches"/)]));
      expect(second!.statements.filter((statement) => statement !== templateIdentityRepush), second!.output).toEqual([]);
    });

    test("sign-in syncs the row, a reload calls Clerk no more, a signed user.deleted tombstones it", async ({ page, emulator }) => {
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      // The emulator plays Svix for this app now (the fixture resets it afterwards).
      await emulator.setWebhooks({ url: `${host.url}/api/webhooks/clerk` });

      await signInOnHost(page, "user_demo_ada");
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
      expect(errors).toEqual([]);
    });

    test("the quickstart's <UserButton/> renders the signed-in user and signs out", async ({ page, emulator: _emulator }) => {
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await signInOnHost(page, "user_demo_grace");
      await page.locator(".cl-userButtonTrigger").click();
      const panel = page.getByRole("dialog", { name: "Account panel" });
      await expect(panel).toContainText("Grace Hopper");
      await panel.getByRole("button", { name: "Sign out" }).click();
      await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
      await expect(page.getByTestId("sync-status")).toHaveCount(0);
      expect(errors).toEqual([]);
    });
  });
}
