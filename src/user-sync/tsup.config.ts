import { defineConfig, type Options } from "tsup";

// Two builds: esbuild drops module directives when it bundles, so the client entry gets its
// "use client" back as a banner (and no rollup treeshake pass, which would drop it again); the
// server entries keep their `import "server-only"` (an external package, left as an import).
// No `clean`: the two builds run at once and would delete each other's files (build.mjs cleans).
const shared: Options = {
  format: ["esm"],
  target: "es2022",
  dts: { compilerOptions: { composite: false, incremental: false } },
  sourcemap: false,
  splitting: false,
  tsconfig: "tsconfig.build.json",
  // Keep `node:` imports as written: bundlers resolve `node:timers/promises`, not always `timers/promises`.
  removeNodeProtocol: false,
};

export default defineConfig([
  { ...shared, entry: { schema: "schema.ts", server: "server/index.ts", advanced: "server/advanced.ts", webhook: "webhook.ts", testing: "testing/index.ts" }, platform: "node", splitting: true },
  { ...shared, entry: { client: "client/index.ts" }, platform: "neutral", banner: { js: '"use client";' } },
]);
