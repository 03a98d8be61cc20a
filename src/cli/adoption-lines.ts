/**
 * Counts the lines a host adds to adopt the plugin, from the second host app that adopts it
 * (`e2e/fixtures/t3-host`, a create-t3-app project with Clerk): every line of the files it adds
 * for the plugin, and each line of its other files that names the plugin. `npm run adoption:lines`
 * prints them; the README's figure is checked against this count by adoption-lines.test.ts.
 */
import fs from "node:fs";
import path from "node:path";

export const fixtureDir = path.resolve(import.meta.dirname, "../../e2e/fixtures/t3-host");

/** Files the host writes only to adopt the plugin: all their lines count. */
const addedFiles: Record<string, "schema" | "server" | "client"> = {
  "src/server/user-sync.ts": "server",
  "src/app/api/webhooks/clerk/route.ts": "server",
};

/** In the host's other files, a line counts when it names the plugin. */
const namesThePlugin = /clerk-user-sync|userSync|UserSync/;

/** What the app does with the sync once adopted (reads `useUserSync()`): use, not adoption. */
const usageFiles = new Set(["src/app/_components/account.tsx"]);

const steps: Record<string, "schema" | "server" | "client"> = {
  "src/server/db/schema.ts": "schema",
  "src/server/api/root.ts": "server",
  "src/app/layout.tsx": "client",
};

export type AdoptionLine = { step: "schema" | "server" | "client"; file: string; line: number; text: string };

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|js)$/.test(entry.name) ? [full] : [];
  });
}

/** Every counted line of the fixture, by step. A file that names the plugin but has no step is an error: count it somewhere. */
export function adoptionLines(dir = fixtureDir): AdoptionLine[] {
  return sourceFiles(path.join(dir, "src")).flatMap((full) => {
    const file = path.relative(dir, full).split(path.sep).join("/");
    if (usageFiles.has(file)) return [];
    const whole = addedFiles[file];
    const lines = fs
      .readFileSync(full, "utf8")
      .split("\n")
      .map((text, index) => ({ text: text.trim(), line: index + 1 }))
      .filter(({ text }) => text !== "" && (whole !== undefined || namesThePlugin.test(text)));
    if (lines.length === 0) return [];
    const step = whole ?? steps[file];
    if (!step) throw new Error(`${file} names the plugin but is not assigned to a step in src/cli/adoption-lines.ts`);
    return lines.map((entry) => ({ step, file, ...entry }));
  });
}

function main() {
  const lines = adoptionLines();
  for (const step of ["schema", "server", "client"] as const) {
    const ofStep = lines.filter((entry) => entry.step === step);
    console.log(`${step}: ${ofStep.length} lines`);
    for (const entry of ofStep) console.log(`  ${entry.file}:${entry.line}  ${entry.text}`);
  }
  console.log(`total: ${lines.length} lines in ${new Set(lines.map((entry) => entry.file)).size} files`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
