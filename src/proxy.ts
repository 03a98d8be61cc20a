import { clerkMiddleware } from "@clerk/nextjs/server";

import { env } from "~/env";

// Verifies the session on every request it matches and makes `auth()` available. It protects
// nothing by path: each page and procedure checks auth itself (Clerk's resource-based guidance).
export default clerkMiddleware({
  // Clerk's SDK does not read CLERK_JWT_KEY itself; with it, session tokens verify with no network.
  jwtKey: process.env.CLERK_JWT_KEY,
  // Clerk's production guidance: a session token minted for another origin (its `azp`) is refused.
  authorizedParties: env.APP_URL,
});

export const config = {
  // /api/webhooks/clerk is left out: Svix deliveries carry no session, only a signature the
  // route verifies, and for any request it matches Next reads the whole body (up to 10 MiB)
  // before the route runs, so the route's own 256 KiB cap would only apply after the upload.
  matcher: [
    // Skip Next.js internals, static files and the webhook route, unless found in search params.
    "/((?!_next|api/webhooks/clerk(?:/|$)|[^?]*\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
    "/((?:api|trpc)(?!/webhooks/clerk(?:/|$)).*)",
  ],
};
