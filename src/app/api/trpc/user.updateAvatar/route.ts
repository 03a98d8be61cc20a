import type { NextRequest } from "next/server";

import { handleTRPCRequest } from "~/server/api/route-handler";
import { createTRPCContextFromRequest } from "~/server/api/trpc";

/**
 * `user.updateAvatar` on a route of its own, outside clerkMiddleware's matcher (src/proxy.ts):
 * for a request the middleware matches, Next reads the whole body (buffering up to 10 MiB) before
 * the route runs, so the upload's 2 MiB cap would come after the upload. Here the route verifies
 * the Clerk session itself (Clerk's `authenticateRequest`, with the middleware's options) and the
 * procedure refuses a declared size over the cap before reading the body, an undeclared one at it.
 */
export function POST(req: NextRequest) {
  return handleTRPCRequest(req, () => createTRPCContextFromRequest(req));
}
