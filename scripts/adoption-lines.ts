/**
 * Counts the lines a host adds to adopt the plugin: the lines `e2e/fixtures/t3-host/adopt.patch`
 * adds (README's "Add it to your app" applied to the app create-t3-app 7.40 generates, with
 * Clerk added as Clerk's quickstart says). The same patch applies to both variants the adoption
 * journey proves (the template's Next 15, and after next16.patch its Next 16 upgrade), so the
 * count holds for both. `package.json`'s line is written by `npm install`, not by hand: listed, not
 * counted. `npm run adoption:lines` prints them; adoption-lines.test.ts checks the README's
 * figures against this count.
 */
import fs from "node:fs";
import path from "node:path";

export const fixtureDir = path.resolve(import.meta.dirname, "../e2e/fixtures/t3-host");

export type AdoptionStep = "schema" | "server" | "client";

/** The README's three steps, by the file a line lands in. */
const steps: Record<string, AdoptionStep> = {
  "src/server/db/schema.ts": "schema",
  "src/server/api/trpc.ts": "server",
  "src/server/user-sync.ts": "server",
  "src/server/api/root.ts": "server",
  "src/app/api/webhooks/clerk/route.ts": "server",
  "src/app/layout.tsx": "client",
};

/** Written by `npm install clerk-user-sync` (or the packed release), not by hand. */
const installedFiles = new Set(["package.json", "package-lock.json"]);

export type AdoptionLine = { step: AdoptionStep; file: string; line: number; text: string };

/** Every non-blank line the patch adds, with its file and its line number in the patched file. */
export function addedLines(patch: string): { file: string; line: number; text: string }[] {
  const added: { file: string; line: number; text: string }[] = [];
  let file: string | null = null;
  let line = 0;
  for (const text of patch.split("\n")) {
    if (text.startsWith("+++ ")) {
      file = text === "+++ /dev/null" ? null : text.slice("+++ b/".length);
      continue;
    }
    if (text.startsWith("--- ") || text.startsWith("diff ") || text.startsWith("index ") || text.startsWith("new file")) continue;
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (hunk) {
      line = Number(hunk[1]);
      continue;
    }
    if (!file) continue;
    if (text.startsWith("+")) {
      if (text.slice(1).trim() !== "") added.push({ file, line, text: text.slice(1).trim() });
      line += 1;
    } else if (text.startsWith(" ")) {
      line += 1;
    }
  }
  return added;
}

/** The adoption's lines by step. A file the patch touches outside the three steps is an error: assign it. */
export function adoptionLines(dir = fixtureDir): AdoptionLine[] {
  return addedLines(fs.readFileSync(path.join(dir, "adopt.patch"), "utf8"))
    .filter((entry) => !installedFiles.has(entry.file))
    .map((entry) => {
      const step = steps[entry.file];
      if (!step) throw new Error(`adopt.patch adds to ${entry.file}, which scripts/adoption-lines.ts assigns to no step`);
      return { step, ...entry };
    });
}

function main() {
  const lines = adoptionLines();
  for (const step of ["schema", "server", "client"] as const) {
    const ofStep = lines.filter((entry) => entry.step === step);
    console.log(`${step}: ${ofStep.length} lines`);
    for (const entry of ofStep) console.log(`  ${entry.file}:${entry.line}  ${entry.text}`);
  }
  const installed = addedLines(fs.readFileSync(path.join(fixtureDir, "adopt.patch"), "utf8")).filter((entry) => installedFiles.has(entry.file));
  for (const entry of installed) console.log(`(written by npm install) ${entry.file}:${entry.line}  ${entry.text}`);
  console.log(`total: ${lines.length} lines in ${new Set(lines.map((entry) => entry.file)).size} files, the same on Next 15 and on Next 16`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
