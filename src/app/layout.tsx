import { ClerkProvider } from "@clerk/nextjs";
import type { Metadata } from "next";

import { TRPCReactProvider } from "~/trpc/react";

import { AppUserSync } from "./_components/app-user-sync";
import { SiteHeader } from "./_components/site-header";
import "./globals.css";

export const metadata: Metadata = {
  title: "Clerk user sync",
  description: "A client-driven, self-healing sync of Clerk users into PostgreSQL.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <ClerkProvider>
      <html lang="en">
        <body className="min-h-screen font-sans">
          <TRPCReactProvider>
            <AppUserSync>
              <SiteHeader />
              {children}
            </AppUserSync>
          </TRPCReactProvider>
        </body>
      </html>
    </ClerkProvider>
  );
}
