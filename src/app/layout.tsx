import { ClerkProvider } from "@clerk/nextjs";
import type { Metadata } from "next";

import { UserSyncProvider } from "clerk-user-sync/client";

import { api, TRPCReactProvider } from "~/trpc/react";

import { AccountChangeNotice } from "./_components/account-change-notice";
import { SiteHeader } from "./_components/site-header";
import "./globals.css";

export const metadata: Metadata = {
  title: "Clerk user sync",
  description: "A client-driven, self-healing sync of Clerk users into PostgreSQL.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    // `dynamic`: the request's auth state is rendered into the page, so `useAuth()` is loaded at
    // hydration and the first sync starts then, not after clerk-js has downloaded and booted.
    <ClerkProvider dynamic>
      <html lang="en">
        <body className="min-h-screen font-sans">
          <TRPCReactProvider>
            <UserSyncProvider trpc={api}>
              <SiteHeader />
              <AccountChangeNotice />
              {children}
            </UserSyncProvider>
          </TRPCReactProvider>
        </body>
      </html>
    </ClerkProvider>
  );
}
