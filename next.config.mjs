import "./src/env.js";

/** @type {import("next").NextConfig} */
const config = {
  // PGlite ships WASM and data files that must be loaded from node_modules, not bundled.
  serverExternalPackages: ["@electric-sql/pglite"],
};

export default config;
