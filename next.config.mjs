import "./src/env.js";

/** @type {import("next").NextConfig} */
const config = {
  // The e2e suite builds into its own folder (.next-e2e), so `npm start` never serves a bundle
  // built for the Clerk emulator.
  distDir: process.env.NEXT_DIST_DIR ?? ".next",
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite"],
};

export default config;
