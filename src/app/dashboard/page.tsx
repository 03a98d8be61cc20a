import { auth } from "@clerk/nextjs/server";

import { DashboardView } from "./dashboard-view";

export default async function DashboardPage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main className="page">
      <h1 className="page-title">Dashboard</h1>
      <p className="mt-1 text-slate-600">Your account as this app stores it, synced from Clerk.</p>
      <div className="mt-6">
        <DashboardView />
      </div>
    </main>
  );
}
