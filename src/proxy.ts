import { clerkMiddleware, type ClerkMiddlewareOptions } from "@clerk/nextjs/server";

import { env } from "~/env";

/**
 * clerkMiddleware forwards the options it was given to the route in a request header, AES-encrypted
 * in JavaScript (crypto-es), which `auth()` then decrypts twice: a cost on every request, and ours
 * are needed only here, to verify. Its handler runs after the verification and before that header
 * is made, so it clears this request's options: with nothing to forward, no header is made; routes
 * read the keys from the environment as before (the options held no key of their own).
 */
const verificationOptions = new WeakMap<Request, ClerkMiddlewareOptions>();

// Verifies the session on every request it matches and makes `auth()` available. It protects
// nothing by path: each page and procedure checks auth itself (Clerk's resource-based guidance).
export default clerkMiddleware(
  (_auth, request) => {
    const options = verificationOptions.get(request);
    if (options) for (const key of Object.keys(options) as (keyof ClerkMiddlewareOptions)[]) options[key] = undefined;
  },
  (request) => {
    const options: ClerkMiddlewareOptions = {
      // Clerk's SDK does not read CLERK_JWT_KEY itself; with it, session tokens verify with no network.
      jwtKey: process.env.CLERK_JWT_KEY,
      // Clerk's production guidance: a session token minted for another origin (its `azp`) is refused.
      authorizedParties: env.APP_URL,
    };
    verificationOptions.set(request, options);
    return options;
  },
);

export const config = {
  // Left out: /api/webhooks/clerk and /api/trpc/user.updateAvatar. For any request the proxy
  // matches, Next reads the whole body (up to 10 MiB buffered, the rest drained) before the route
  // runs, so a route's own cap (the webhook's 256 KiB, the avatar's 2 MiB) would only apply after
  // the upload. Svix deliveries carry a signature the webhook route verifies; the avatar route
  // verifies the Clerk session itself (createTRPCContextFromRequest).
  matcher: [
    // Skip Next.js internals, static files and those two routes, unless found in search params.
    "/((?!_next|api/webhooks/clerk(?:/|$)|api/trpc/user\\.updateAvatar(?:/|$)|[^?]*\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
    "/((?:api|trpc)(?!/webhooks/clerk(?:/|$)|/trpc/user\\.updateAvatar(?:/|$)).*)",
  ],
};
