import "./src/env.js";

/** @type {import("next").NextConfig} */
const config = {
  // A separate build folder lets the e2e production build sit beside a running `next dev`.
  distDir: process.env.NEXT_DIST_DIR ?? ".next",
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite"],
};

export default config;
