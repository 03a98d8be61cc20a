/**
 * The e2e suite's production build is built for the Clerk emulator (its keys and URLs are
 * inlined), so it must never land where `npm start` looks (`.next`).
 */
import fs from "node:fs";
import path from "node:path";

import { expect, test } from "@playwright/test";

import { appUrl, e2eDistDir } from "./support/settings";

test("the e2e server serves the build in .next-e2e, and .next does not hold it", async ({ request }) => {
  const e2eBuildId = fs.readFileSync(path.join(e2eDistDir, "BUILD_ID"), "utf8").trim();
  const html = await (await request.get(`${appUrl}/`)).text();
  // The App Router's flight data in the page carries the build id.
  expect(html).toContain(e2eBuildId);
  const defaultBuildId = path.join(".next", "BUILD_ID");
  if (fs.existsSync(defaultBuildId)) expect(fs.readFileSync(defaultBuildId, "utf8").trim()).not.toBe(e2eBuildId);
});
