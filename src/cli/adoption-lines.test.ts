import fs from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { adoptionLines, fixtureDir } from "./adoption-lines";

const readme = fs.readFileSync(path.resolve(import.meta.dirname, "../../README.md"), "utf8");

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

  it("stay within the three touch points and 20 lines", () => {
    expect(lines.length).toBeLessThanOrEqual(20);
    expect([...new Set(lines.map((entry) => entry.step))].sort()).toEqual(["client", "schema", "server"]);
  });

  it("are each shown in the README's code blocks", () => {
    for (const entry of lines) expect(readme, `${entry.file}:${entry.line}`).toContain(entry.text.replace(/ \/\/ .*$/, ""));
  });

  it("come from a host that uses the package by name only, never the plugin's source", () => {
    const sources = fs.readdirSync(path.join(fixtureDir, "src"), { recursive: true, encoding: "utf8" }).filter((file) => /\.(ts|tsx|js)$/.test(file));
    for (const file of sources) expect(fs.readFileSync(path.join(fixtureDir, "src", file), "utf8")).not.toMatch(/user-sync\/(server|client|shared)\/|~\/user-sync\//);
  });
});
