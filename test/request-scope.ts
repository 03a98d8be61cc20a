import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What `next/headers` returns inside a test request. Next's server sets this per request;
 * here src/test/next-app.ts (the host's) runs each request inside `requestScope.run(...)`.
 */
export const requestScope = new AsyncLocalStorage<Headers>();

export function currentRequestHeaders(): Headers {
  const headers = requestScope.getStore();
  if (!headers) throw new Error("next/headers was called outside a test request");
  return headers;
}
