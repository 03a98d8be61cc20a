import { auth } from "@clerk/nextjs/server";
import Link from "next/link";

import { DashboardView } from "./dashboard-view";

export default async function DashboardPage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main>
      <nav>
        <Link href="/">Home</Link>
        <Link href="/profile">Profile</Link>
        <Link href="/dashboard/settings">Settings</Link>
      </nav>
      <h1>Dashboard</h1>
      <DashboardView />
    </main>
  );
}
