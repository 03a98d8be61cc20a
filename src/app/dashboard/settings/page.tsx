import { auth } from "@clerk/nextjs/server";
import Link from "next/link";

import { DashboardView } from "../dashboard-view";

/** A second authenticated page: navigating here must not sync again. */
export default async function SettingsPage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main>
      <nav>
        <Link href="/dashboard">Dashboard</Link>
      </nav>
      <h1>Settings</h1>
      <DashboardView />
    </main>
  );
}
