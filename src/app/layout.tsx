import { ClerkProvider } from "@clerk/nextjs";
import type { Metadata } from "next";

import { TRPCReactProvider } from "~/trpc/react";

import { AppUserSync } from "./_components/app-user-sync";
import "./globals.css";

export const metadata: Metadata = {
  title: "Clerk user sync",
  description: "A client-driven, self-healing sync of Clerk users into PostgreSQL.",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <ClerkProvider>
      <html lang="en">
        <body>
          <TRPCReactProvider>
            <AppUserSync>{children}</AppUserSync>
          </TRPCReactProvider>
        </body>
      </html>
    </ClerkProvider>
  );
}
