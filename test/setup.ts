import { createRequire } from "node:module";

import { afterEach, vi } from "vitest";

// `server-only` throws outside Next's react-server layer. Dependencies (@clerk/nextjs/server)
// load it through Node, so seed Node's module cache with an empty module for it.
const require = createRequire(import.meta.url);
for (const from of [import.meta.url, require.resolve("@clerk/nextjs")]) {
  const resolved = createRequire(from).resolve("server-only");
  require.cache[resolved] = { id: resolved, filename: resolved, loaded: true, exports: {} } as NodeJS.Module;
}

// A test that makes the code under test log an error fails, unless it expects the error
// (Epic Stack's habit): spy with vi.spyOn(console, "error") to opt in.
const originalConsoleError = console.error;
const failingConsoleError = (...args: unknown[]) => {
  originalConsoleError(...args);
  throw new Error(`console.error was called: ${args.map(String).join(" ").slice(0, 500)}`);
};
console.error = failingConsoleError;
// Every test starts with the failing one again, also after a test that spied on it.
afterEach(() => {
  console.error = failingConsoleError;
});

// Only Next's request-scoped header store is replaced; Clerk's middleware and auth() run for real.
vi.mock("next/headers", async () => {
  const { currentRequestHeaders } = await import("./request-scope");
  return {
    headers: () => Promise.resolve(currentRequestHeaders()),
    cookies: () => {
      throw new Error("cookies() is not available in tests");
    },
  };
});
