import { clerkMiddleware } from "@clerk/nextjs/server";

// Verifies the session on every request and makes `auth()` available. It protects nothing by
// path: each page and procedure checks auth itself (Clerk's resource-based guidance), and
// /api/webhooks/clerk stays public because Svix deliveries carry no session, only a signature.
export default clerkMiddleware({
  // Clerk's SDK does not read CLERK_JWT_KEY itself; with it, session tokens verify with no network.
  jwtKey: process.env.CLERK_JWT_KEY,
});

export const config = {
  matcher: [
    // Skip Next.js internals and static files, unless found in search params.
    "/((?!_next|[^?]*\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
    "/(api|trpc)(.*)",
  ],
};
