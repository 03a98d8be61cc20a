import nextVitals from "eslint-config-next/core-web-vitals";
import tseslint from "typescript-eslint";

// Who may import whom (issue 22): the plugin (src/user-sync) imports nothing of the host app,
// tools/, scripts/ or e2e/; the host (the rest of src/) nothing of tools/, scripts/, e2e/ or a
// package's source; tools/, scripts/, e2e/ and test/ use the plugin only through its package
// entries; test/ (the repository's test infrastructure) imports nothing of the app.
const pluginEntries = {
  // ~/user-sync/…, …/src/user-sync/…, or a path into one of its folders (not the host's own user-sync.ts or routes).
  regex: "^~/user-sync(/|$)|(^|/)src/user-sync(/|$)|(^|/)user-sync/(server|client|shared|testing|schema|webhook)(/|\\.|$)",
  message: "Use the plugin through its package entries: clerk-user-sync/{schema,server,server/advanced,client,webhook,testing}.",
};
const outsideTools = { regex: "^(\\.\\./)+(tools|scripts|e2e)(/|$)", message: "tools/, scripts/ and e2e/ sit beside the app: src/ imports nothing from them." };
const packageSources = {
  regex: "^((\\.\\./)+packages/|clerk-user-sync-emulator/)",
  message: "A package is used by its name (clerk-user-sync-emulator), not by its files.",
};
const hostApp = { regex: "^~/", message: "This code is not the host app: it imports nothing of it (~/…)." };
const testInfrastructure = { regex: "^#test/", message: "test/ is test infrastructure: only tests and their helpers import it." };
/**
 * `no-restricted-imports` with these patterns on these files.
 * @param {string[]} files @param {{ regex: string; message: string }[]} patterns @param {string[]} [ignores]
 * @returns {import("eslint").Linter.Config}
 */
const restrict = (files, patterns, ignores = []) => ({ files, ignores, rules: { "no-restricted-imports": ["error", { patterns }] } });
const testFiles = ["*.test.ts", "*.test.tsx", "*.test-d.ts", "test-*.ts"];

const importBoundaries = [
  // The host app (src/ without the plugin).
  restrict(["src/**/*.ts", "src/**/*.tsx"], [pluginEntries, outsideTools, packageSources], ["src/user-sync/**"]),
  // The plugin, per folder depth: a relative path with one `../` more than the depth leaves src/user-sync.
  ...[0, 1, 2, 3].flatMap((depth) => {
    const folder = `src/user-sync/${"*/".repeat(depth)}`;
    const leavesPlugin = { regex: `^(\\.\\./){${depth + 1}}`, message: "The plugin imports nothing outside src/user-sync (the host app, tools/, scripts/, e2e/)." };
    return [
      restrict([`${folder}*.ts`, `${folder}*.tsx`, `${folder}*.mjs`], [hostApp, leavesPlugin, testInfrastructure]),
      // Its tests (and their helpers) may use the repository's test infrastructure.
      restrict(testFiles.map((name) => folder + name), [hostApp, leavesPlugin]),
    ];
  }),
  // Tools, scripts and browser tests use the plugin as a host does.
  restrict(["tools/**/*.ts", "scripts/**/*.ts", "e2e/**/*.ts"], [pluginEntries]),
  // The repository's test infrastructure: nothing of the app, the plugin only by package name.
  restrict(["test/**/*.ts"], [hostApp, pluginEntries, { regex: "^(\\.\\./)+(src|tools|scripts|e2e)(/|$)", message: "test/ imports nothing of the app, tools/, scripts/ or e2e/." }]),
];

export default tseslint.config(
  {
    ignores: [".next/**", ".next-*/**", "node_modules/**", ".data/**", ".clerk-emulator/**", "test-results/**", "playwright-report/**", "next-env.d.ts", "src/user-sync/dist/**", "packages/*/dist/**", "e2e/fixtures/**"],
  },
  ...nextVitals,
  {
    files: ["**/*.ts", "**/*.tsx"],
    extends: [...tseslint.configs.recommendedTypeChecked, ...tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["warn", { prefer: "type-imports", fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["warn", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/consistent-type-definitions": "off",
    },
  },
  ...importBoundaries,
);
