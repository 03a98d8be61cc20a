import fs from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { userSyncTables } from "clerk-user-sync/schema";

import { addedLines, adoptionLines, fixtureDir } from "./adoption-lines";

const readme = fs.readFileSync(path.resolve(import.meta.dirname, "../README.md"), "utf8");

describe("the lines a host adds to adopt the plugin", () => {
  const lines = adoptionLines();
  const ofStep = (step: string) => lines.filter((entry) => entry.step === step).length;

  it("are the figures the README states, counted in the second host app", () => {
    const stated = /add \*\*(\d+) lines\*\* in (\d+) files \(schema (\d+),\s+server (\d+), client (\d+)\)/.exec(readme.replace(/\n\s*/g, " "));
    expect(stated, "README: 'add **N lines** in F files (schema S, server V, client C)'").not.toBeNull();
    const [, total, files, schema, server, client] = stated!.map(Number);
    expect({
      total: lines.length,
      files: new Set(lines.map((entry) => entry.file)).size,
      schema: ofStep("schema"),
      server: ofStep("server"),
      client: ofStep("client"),
    }).toEqual({ total, files, schema, server, client });
  });

  // drizzle-kit reads a schema file's top-level exports only, so each of the plugin's tables is a
  // line of the host's schema: the budget is the steps' own lines plus one per plugin table.
  it("stay within the three steps and a budget of 22 lines plus one per plugin table (what prettier makes of them)", () => {
    expect(lines.length).toBeLessThanOrEqual(22 + Object.keys(userSyncTables()).length);
    expect([...new Set(lines.map((entry) => entry.step))].sort()).toEqual(["client", "schema", "server"]);
  });

  it("are each shown in the README's code blocks", () => {
    for (const entry of lines) expect(readme, `${entry.file}:${entry.line}`).toContain(entry.text);
  });

  it("come from a host that uses the package by name only, never the plugin's source", () => {
    for (const patch of ["adopt.patch", "use.patch"]) {
      for (const entry of addedLines(fs.readFileSync(path.join(fixtureDir, patch), "utf8"))) {
        expect(entry.text, `${patch} ${entry.file}:${entry.line}`).not.toMatch(/user-sync\/(server|client|shared)\/|~\/user-sync\//);
      }
    }
  });
});

describe("addedLines", () => {
  it("reads each added, non-blank line with its file and its line in the patched file, across hunks and files", () => {
    const patch = [
      "diff --git a/a.ts b/a.ts",
      "--- a/a.ts",
      "+++ b/a.ts",
      "@@ -1,2 +1,4 @@",
      " one",
      "+two",
      "+",
      " three",
      "@@ -10,1 +12,2 @@ context",
      "-old",
      "+new",
      "diff --git a/b.ts b/b.ts",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/b.ts",
      "@@ -0,0 +1 @@",
      "+only",
    ].join("\n");
    expect(addedLines(patch)).toEqual([
      { file: "a.ts", line: 2, text: "two" },
      { file: "a.ts", line: 12, text: "new" },
      { file: "b.ts", line: 1, text: "only" },
    ]);
  });
});
