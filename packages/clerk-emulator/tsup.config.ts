import { defineConfig } from "tsup";

// Node only, built-ins only: the CLI (`clerk-emulator`, its shebang kept) and the library entry.
export default defineConfig({
  entry: { index: "src/index.ts", cli: "src/cli.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  dts: { entry: { index: "src/index.ts" }, compilerOptions: { composite: false, incremental: false } },
  clean: true,
  splitting: true,
  sourcemap: false,
  tsconfig: "tsconfig.build.json",
  removeNodeProtocol: false,
});
