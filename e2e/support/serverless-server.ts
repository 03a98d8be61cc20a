/**
 * The e2e production build served the way a serverless platform serves it (Vercel's Node.js
 * runtime): Next's request handler behind a plain HTTP server that gives Next a request context
 * with `waitUntil` (`globalThis[Symbol.for("@next/request-context")]`, which Next's `after()`
 * uses), and freezes the instance once an invocation's response is sent and its `waitUntil`
 * work has settled. It freezes itself (SIGSTOP) at exactly that moment, after telling the test
 * over IPC; the test reads the database, then thaws it (SIGCONT). Run by e2e/serverless.spec.ts
 * with the app's env (NEXT_DIST_DIR, DATABASE_URL, …) and SERVERLESS_PORT.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";

import next from "next";

type Invocation = { waitUntil: (promise: Promise<unknown>) => void; registered: Promise<unknown>[] };

const invocations = new AsyncLocalStorage<Invocation>();
(globalThis as Record<symbol, unknown>)[Symbol.for("@next/request-context")] = { get: () => invocations.getStore() };

const app = next({ dev: false, dir: process.cwd() });
await app.prepare();
const handle = app.getRequestHandler();

const server = http.createServer((request, response) => {
  const registered: Promise<unknown>[] = [];
  const invocation: Invocation = { registered, waitUntil: (promise) => registered.push(promise) };
  response.once("finish", () => {
    void (async () => {
      // The invocation ends once every waitUntil promise has settled (work they add included).
      while (registered.length) await Promise.allSettled(registered.splice(0));
      process.send?.({ type: "frozen", path: request.url }, () => process.kill(process.pid, "SIGSTOP"));
    })();
  });
  void invocations.run(invocation, () => handle(request, response));
});

server.listen(Number(process.env.SERVERLESS_PORT), "127.0.0.1", () => process.send?.({ type: "ready" }));
