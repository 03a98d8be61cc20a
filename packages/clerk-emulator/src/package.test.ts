import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { afterAll, expect, it } from "vitest";

const run = promisify(execFile);
const packageDir = path.resolve(import.meta.dirname, "..");
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "clerk-emulator-package-"));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

// What an adopter gets: the packed tarball (built by prepack) installed into an empty project,
// with no other package (the emulator uses Node's built-ins only), and its `clerk-emulator` bin.
it("packs with its README and licence, installs on its own, and `npx clerk-emulator --print-env` prints the app's env", async () => {
  const packed = await run("npm", ["pack", "--json", "--pack-destination", workDir], { cwd: packageDir, maxBuffer: 16 * 1024 * 1024 });
  const [tarball] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  expect(tarball!.files.map((file) => file.path).sort()).toEqual(expect.arrayContaining(["LICENSE", "README.md", "dist/cli.js", "dist/index.d.ts", "dist/index.js", "package.json"]));
  expect(tarball!.files.some((file) => /test|contract/.test(file.path))).toBe(false);

  const app = path.join(workDir, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "adopter", private: true }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(workDir, tarball!.filename)], { cwd: app });

  const stateDir = path.join(workDir, "state");
  const { stdout } = await run("npx", ["clerk-emulator", "--app-url", "http://localhost:3000", "--port", "4999", "--state-dir", stateDir, "--print-env"], { cwd: app });
  const env = Object.fromEntries(
    stdout
      .split("\n")
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), JSON.parse(line.slice(line.indexOf("=") + 1)) as string]),
  );
  expect(env).toMatchObject({
    CLERK_API_URL: "http://localhost:4999",
    NEXT_PUBLIC_CLERK_PROXY_URL: "http://localhost:4999/__clerk",
    NEXT_PUBLIC_CLERK_JS_URL: "http://localhost:4999/clerk-js/clerk.browser.js",
    NEXT_PUBLIC_CLERK_UI_URL: "http://localhost:4999/clerk-ui/ui.browser.js",
    NEXT_PUBLIC_CLERK_SIGN_IN_URL: "http://localhost:4999/sign-in",
    CLERK_SECRET_KEY: expect.stringMatching(/^sk_/) as string,
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: expect.stringMatching(/^pk_/) as string,
    CLERK_JWT_KEY: expect.stringContaining("BEGIN PUBLIC KEY") as string,
  });
  expect(env.CLERK_INSTANCE_ID).toBe((JSON.parse(fs.readFileSync(path.join(stateDir, "instance.json"), "utf8")) as { instanceId: string }).instanceId);
}, 180_000);
