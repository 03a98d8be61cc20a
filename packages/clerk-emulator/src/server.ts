import fs from "node:fs";
import http, { type ServerResponse } from "node:http";
import path from "node:path";

import { registerBapi } from "./bapi";
import { registerControl } from "./control";
import { ClerkEmulator, type ClerkEmulatorOptions } from "./emulator";
import { fapiPrefix, registerFapi } from "./fapi";
import { HttpError, Router, sendClerkError, type Request } from "./http";
import { registerPages } from "./pages";

export type RunningEmulator = { emulator: ClerkEmulator; server: http.Server; close: () => Promise<void> };

const contentTypes: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".css": "text/css",
};

/**
 * Starts the emulator on `options.port`, on all interfaces (IPv4 and IPv6), so
 * `http://localhost:<port>` works whatever `localhost` resolves to.
 */
export async function startClerkEmulator(options: ClerkEmulatorOptions): Promise<RunningEmulator> {
  const emulator = new ClerkEmulator(options);
  const router = new Router<ClerkEmulator>();
  registerControl(router);
  registerFapi(router);
  registerBapi(router);
  registerPages(router);

  const server = http.createServer((incoming, res) => {
    const req = incoming as Request;
    void handle(emulator, router, req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500) emulator.log(`error ${req.method} ${req.url}: ${error instanceof Error ? error.stack : String(error)}`);
      if (res.headersSent) return void res.destroy();
      const code = error instanceof HttpError ? error.code : "internal_clerk_error";
      const message = error instanceof Error ? error.message : "Internal error";
      sendClerkError(
        res,
        status,
        code,
        message,
        { ...cors(emulator, req), ...(error instanceof HttpError ? error.headers : {}) },
        error instanceof HttpError ? error.paramName : undefined,
        (error instanceof HttpError ? error.longMessage : undefined) ?? message,
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, () => resolve());
  });
  return {
    emulator,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        emulator.webhooks.reset();
        emulator.users.flush();
        // Releases hung Backend API calls, then drops idle keep-alive connections.
        emulator.faults.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(emulator: ClerkEmulator, router: Router<ClerkEmulator>, req: Request, res: ServerResponse) {
  const url = new URL(req.url, emulator.origin);
  // clerk-js tunnels PATCH/DELETE/PUT through POST with `_method`.
  const method = url.searchParams.get("_method")?.toUpperCase() ?? req.method;
  const bundle = bundleRoots.find((root) => url.pathname.startsWith(root.prefix));
  const isBrowserFacing = url.pathname.startsWith(fapiPrefix) || bundle !== undefined;

  if (req.method === "OPTIONS" && isBrowserFacing) {
    res.writeHead(204, {
      ...cors(emulator, req),
      "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
      "Access-Control-Allow-Headers": req.headers["access-control-request-headers"] ?? "content-type",
      "Access-Control-Max-Age": "600",
    });
    return void res.end();
  }

  if (bundle) return serveBundle(bundle.dir(emulator), res, url.pathname.slice(bundle.prefix.length));
  // clerk-js calls the Frontend API with credentials from the app's origin.
  if (url.pathname.startsWith(fapiPrefix)) for (const [name, value] of Object.entries(cors(emulator, req))) res.setHeader(name, value);

  const match = router.match(method, url.pathname);
  if (!match) {
    const status = router.hasPath(url.pathname) ? 405 : 404;
    throw new HttpError(status, status === 404 ? "resource_not_found" : "method_not_allowed", `No route for ${method} ${url.pathname}`);
  }
  if (url.pathname.startsWith(fapiPrefix)) emulator.log(`fapi ${method} ${url.pathname.slice(fapiPrefix.length)}`);
  await match.handler({ req, res, url, params: match.params, ctx: emulator });
}

/** The prebuilt browser bundles the app loads from the emulator (`NEXT_PUBLIC_CLERK_JS_URL`, `NEXT_PUBLIC_CLERK_UI_URL`). */
const bundleRoots = [
  { prefix: "/clerk-js/", dir: (emulator: ClerkEmulator) => emulator.clerkJsDir },
  { prefix: "/clerk-ui/", dir: (emulator: ClerkEmulator) => emulator.clerkUiDir },
];

function serveBundle(root: string | null, res: ServerResponse, relativePath: string) {
  if (!root) throw new HttpError(404, "resource_not_found", "This bundle is not available");
  const file = path.join(root, path.normalize(decodeURIComponent(relativePath)));
  if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new HttpError(404, "resource_not_found", "No such file");
  }
  res.writeHead(200, {
    // Scripts load with crossorigin=anonymous (no cookies), so a wildcard is enough.
    "Access-Control-Allow-Origin": "*",
    "Content-Type": contentTypes[path.extname(file)] ?? "application/octet-stream",
    "Cache-Control": "public, max-age=3600",
  });
  fs.createReadStream(file).pipe(res);
}

/** Credentialed CORS for the app's origin (and other loopback origins). */
export function cors(ctx: ClerkEmulator, req: Request): Record<string, string> {
  const origin = req.headers.origin;
  if (!ctx.isAllowedOrigin(origin)) return {};
  return { "Access-Control-Allow-Origin": origin!, "Access-Control-Allow-Credentials": "true", Vary: "Origin" };
}
