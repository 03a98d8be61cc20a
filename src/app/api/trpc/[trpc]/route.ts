import type { NextRequest } from "next/server";

import { handleTRPCRequest } from "~/server/api/route-handler";
import { createTRPCContext } from "~/server/api/trpc";

function handler(req: NextRequest) {
  return handleTRPCRequest(req, () => createTRPCContext({ headers: req.headers }));
}

export { handler as GET, handler as POST };
