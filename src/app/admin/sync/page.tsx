import { auth } from "@clerk/nextjs/server";
import { notFound } from "next/navigation";

import { userSync } from "~/server/user-sync";

import { ConsoleView } from "./console-view";

export const metadata = { title: "Admin console · Clerk user sync" };

/**
 * The operators' console: Clerk admins only (`public_metadata.role` "admin", the plugin's cached
 * role check); a 404 for anyone else.
 */
export default async function AdminSyncPage() {
  const { userId } = await auth();
  if (!userId || !(await userSync.isAdmin(userId))) notFound();
  return (
    <main className="page">
      <h1 className="page-title">User sync console</h1>
      <p className="mt-1 text-slate-600">How the mirror of Clerk’s users is doing, from this app’s PostgreSQL and Clerk’s count.</p>
      <div className="mt-6">
        <ConsoleView />
      </div>
    </main>
  );
}
