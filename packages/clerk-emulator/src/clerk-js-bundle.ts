import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The clerk-js that @clerk/shared 4.36.0 (what @clerk/nextjs 7.9.7 resolves here) asks for. */
export const clerkJsVersion = "6.34.1";

/**
 * Ensures `<stateDir>/clerk-js-<version>/` holds `@clerk/clerk-js`'s `dist` folder and returns
 * its path. The package is not a dependency (its tree does not install from this registry):
 * it is fetched once with `npm pack` and unpacked with `tar`.
 */
export function ensureClerkJs(stateDir: string, log: (line: string) => void = () => undefined): string {
  const target = path.resolve(stateDir, `clerk-js-${clerkJsVersion}`);
  if (fs.existsSync(path.join(target, "clerk.browser.js"))) return target;
  fs.mkdirSync(stateDir, { recursive: true });
  // Unpacked beside the target, so the final rename stays on one file system.
  const work = fs.mkdtempSync(path.join(path.resolve(stateDir), ".clerk-js-"));
  try {
    log(`fetching @clerk/clerk-js@${clerkJsVersion} with npm pack…`);
    const packed = JSON.parse(
      execFileSync("npm", ["pack", `@clerk/clerk-js@${clerkJsVersion}`, "--json", "--pack-destination", work], {
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
      if (!fs.existsSync(path.join(target, "clerk.browser.js"))) throw error;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return target;
}
