import { clerkMiddleware, createRouteMatcher } from "@clerk/nextjs/server";

const isProtectedPage = createRouteMatcher(["/dashboard(.*)"]);

// /api/webhooks/clerk stays public: Svix deliveries carry no session, only their signature.
export default clerkMiddleware(
  async (auth, req) => {
    if (isProtectedPage(req)) await auth.protect();
  },
  {
    // Clerk's SDK does not read CLERK_JWT_KEY itself; with it, session tokens verify with no network.
    jwtKey: process.env.CLERK_JWT_KEY,
  },
);

export const config = {
  matcher: [
    // Skip Next.js internals and static files, unless found in search params.
    "/((?!_next|[^?]*\\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)",
    "/(api|trpc)(.*)",
  ],
};
