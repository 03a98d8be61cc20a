import Link from "next/link";

import { DashboardView } from "../dashboard-view";

/** A second authenticated page: navigating here must not sync again. */
export default function SettingsPage() {
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
