import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The clerk-js that @clerk/shared 4.36 (what @clerk/nextjs 7.9 resolves) asks for. */
export const clerkJsVersion = "6.34.1";

/**
 * The prebuilt components' bundle (`<SignIn/>`, `<UserButton/>`, …): since clerk-js 6 it is a
 * package of its own, `@clerk/ui`, which `@clerk/react` loads from `NEXT_PUBLIC_CLERK_UI_URL`
 * (else Clerk's CDN); without it the components render nothing, or fail with "Clerk was not
 * loaded with Ui components". The version @clerk/shared 4.36 asks for.
 */
export const clerkUiVersion = "1.36.0";

/** Where the unpacked bundles live: served at `/clerk-js/` and `/clerk-ui/`. */
export type ClerkBundleDirs = { clerkJsDir: string; clerkUiDir: string };

/**
 * Ensures `<stateDir>/clerk-js-<version>/` and `<stateDir>/clerk-ui-<version>/` hold the `dist`
 * folders of `@clerk/clerk-js` and `@clerk/ui`. They are not dependencies (their trees do not
 * install from every registry): each is fetched once with `npm pack` and unpacked with `tar`.
 */
export function ensureClerkBundles(stateDir: string, log: (line: string) => void = () => undefined): ClerkBundleDirs {
  return {
    clerkJsDir: ensurePackedDist(stateDir, "@clerk/clerk-js", clerkJsVersion, "clerk-js", "clerk.browser.js", log),
    clerkUiDir: ensurePackedDist(stateDir, "@clerk/ui", clerkUiVersion, "clerk-ui", "ui.browser.js", log),
  };
}

function ensurePackedDist(stateDir: string, name: string, version: string, folder: string, entry: string, log: (line: string) => void): string {
  const target = path.resolve(stateDir, `${folder}-${version}`);
  if (fs.existsSync(path.join(target, entry))) return target;
  fs.mkdirSync(stateDir, { recursive: true });
  // Unpacked beside the target, so the final rename stays on one file system.
  const work = fs.mkdtempSync(path.join(path.resolve(stateDir), `.${folder}-`));
  try {
    log(`fetching ${name}@${version} with npm pack…`);
    const packed = JSON.parse(
      execFileSync("npm", ["pack", `${name}@${version}`, "--json", "--pack-destination", work], {
        cwd: work,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }),
    ) as { filename: string }[];
    execFileSync("tar", ["-xzf", path.join(work, packed[0]!.filename), "-C", work, "package/dist"], { stdio: "inherit" });
    try {
      fs.renameSync(path.join(work, "package", "dist"), target);
    } catch (error) {
      // Another process unpacked it first.
      if (!fs.existsSync(path.join(target, entry))) throw error;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return target;
}
