/**
 * The shape of the plugin (`src/user-sync`), as issue 22 measures it: the names each package
 * entry exports (values and types), the largest files and functions (tests and the test kit
 * `testing/` excepted: test doubles count as tests), and the server's import graph (cycles,
 * floors). `npm run plugin:shape`; `--max-file-lines N` and
 * `--max-function-lines N` (default 300 and 100) list what is over, and exit 1 when anything is.
 */
import fs from "node:fs";
import path from "node:path";

import ts from "typescript";

const root = path.resolve(import.meta.dirname, "..");
const plugin = path.join(root, "src/user-sync");
const argValue = (name: string, fallback: number) => {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
};
const maxFileLines = argValue("--max-file-lines", 300);
const maxFunctionLines = argValue("--max-function-lines", 100);

const packageJson = JSON.parse(fs.readFileSync(path.join(plugin, "package.json"), "utf8")) as { exports: Record<string, { default?: string } | string> };
const tsupConfig = fs.readFileSync(path.join(plugin, "tsup.config.ts"), "utf8");
/** Entry name → source file, from tsup's `entry: { name: "file.ts" }` maps. */
const entrySources = new Map([...tsupConfig.matchAll(/"?([\w/-]+)"?: "([\w/.-]+\.tsx?)"/g)].map((match) => [match[1]!, path.join(plugin, match[2]!)]));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return ["dist", "node_modules", "testing"].includes(entry.name) ? [] : sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !/\.test(-d)?\.tsx?$/.test(entry.name) && !entry.name.startsWith("test-") ? [full] : [];
  });
}

const files = sourceFiles(plugin);
const program = ts.createProgram([...entrySources.values(), ...files], {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  jsx: ts.JsxEmit.Preserve,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();

console.log("Exports per entry (values + types):");
for (const [subpath, target] of Object.entries(packageJson.exports)) {
  // `./server/advanced` → `./dist/advanced.js` → tsup's entry `advanced`.
  const built = typeof target === "string" ? target : target.default;
  const source = built && entrySources.get(path.basename(built, ".js"));
  if (!source) continue;
  const name = subpath.replace(/^\.\//, "");
  const file = program.getSourceFile(source);
  const symbol = file && checker.getSymbolAtLocation(file);
  if (!symbol) continue;
  let values = 0;
  let types = 0;
  for (const exported of checker.getExportsOfModule(symbol)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (target.flags & ts.SymbolFlags.Value) values++;
    else types++;
  }
  console.log(`  clerk-user-sync/${name}: ${values + types} (${values} values, ${types} types)`);
}

const relative = (file: string) => path.relative(root, file);
const fileLines = files.map((file) => ({ file, lines: fs.readFileSync(file, "utf8").split("\n").length - 1 })).sort((a, b) => b.lines - a.lines);

type FunctionSpan = { name: string; file: string; lines: number };
const functions: FunctionSpan[] = [];
for (const file of files) {
  const source = program.getSourceFile(file);
  if (!source) continue;
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      functions.push({ name: functionName(node), file, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
functions.sort((a, b) => b.lines - a.lines);

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return "(anonymous)";
}

console.log(`\nLargest files (of ${files.length}, tests and the test kit excepted):`);
for (const { file, lines } of fileLines.slice(0, 5)) console.log(`  ${lines} ${relative(file)}`);
console.log(`\nLargest functions (of ${functions.length}):`);
for (const { name, file, lines } of functions.slice(0, 5)) console.log(`  ${lines} ${name} (${relative(file)})`);

// The server's import graph: every relative import (types too) between its source files.
const server = files.filter((file) => file.startsWith(path.join(plugin, "server")));
const known = new Set(server);
const edges = new Map(
  server.map((file) => {
    const text = fs.readFileSync(file, "utf8");
    const targets = [...text.matchAll(/from "(\.[^"]*)"/g)]
      .map((match) => path.join(path.dirname(file), match[1]!))
      .map((base) => [`${base}.ts`, `${base}.tsx`, path.join(base, "index.ts")].find((candidate) => known.has(candidate)))
      .filter((target): target is string => target !== undefined);
    return [file, [...new Set(targets)]];
  }),
);
const cycles: string[] = [];
const state = new Map<string, "open" | "done">();
const stack: string[] = [];
const walk = (file: string) => {
  state.set(file, "open");
  stack.push(file);
  for (const target of edges.get(file) ?? []) {
    if (state.get(target) === "open") cycles.push([...stack.slice(stack.indexOf(target)), target].map((f) => path.relative(plugin, f)).join(" -> "));
    else if (!state.has(target)) walk(target);
  }
  stack.pop();
  state.set(file, "done");
};
for (const file of server) if (!state.has(file)) walk(file);
const floors = new Map<string, number>();
const floorOf = (file: string): number => {
  const known = floors.get(file);
  if (known !== undefined) return known;
  floors.set(file, 0);
  const floor = 1 + Math.max(0, ...(edges.get(file) ?? []).map(floorOf));
  floors.set(file, floor);
  return floor;
};
console.log(`\nServer import graph: ${server.length} files, ${cycles.length} cycle(s), ${Math.max(...server.map(floorOf))} floors`);
for (const cycle of cycles) console.log(`  cycle: ${cycle}`);

const overFiles = fileLines.filter(({ lines }) => lines > maxFileLines);
const overFunctions = functions.filter(({ lines }) => lines > maxFunctionLines);
console.log(`\nFiles over ${maxFileLines} lines: ${overFiles.length}; functions over ${maxFunctionLines} lines: ${overFunctions.length}`);
for (const { file, lines } of overFiles) console.log(`  file ${lines} ${relative(file)}`);
for (const { name, file, lines } of overFunctions) console.log(`  function ${lines} ${name} (${relative(file)})`);
if (overFiles.length || overFunctions.length || cycles.length) process.exitCode = 1;
