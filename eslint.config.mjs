import nextVitals from "eslint-config-next/core-web-vitals";
import tseslint from "typescript-eslint";

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
  {
    // The host app (and the benchmarks) use the plugin as any host does: by package name, through
    // its exports (the benchmarks' building blocks through clerk-user-sync/server/advanced).
    files: ["src/**/*.ts", "src/**/*.tsx", "tools/**/*.ts", "scripts/**/*.ts", "e2e/**/*.ts"],
    ignores: ["src/user-sync/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["~/user-sync", "~/user-sync/*", "**/user-sync/server/*", "**/user-sync/client/*", "**/user-sync/schema"], message: "Import clerk-user-sync/{schema,server,server/advanced,client,webhook} instead." }] },
      ],
    },
  },
);
