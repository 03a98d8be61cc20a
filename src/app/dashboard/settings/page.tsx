import { auth } from "@clerk/nextjs/server";

import { DashboardView } from "../dashboard-view";

/** A second authenticated page: navigating here must not sync again. */
export default async function SettingsPage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main className="page">
      <h1 className="page-title">Settings</h1>
      <p className="mt-1 text-slate-600">Another page of the same session: it reads the same synced row and does not sync again.</p>
      <div className="mt-6">
        <DashboardView />
      </div>
    </main>
  );
}
