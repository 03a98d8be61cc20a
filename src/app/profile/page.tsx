import { auth } from "@clerk/nextjs/server";
import Link from "next/link";

import { ProfileForm } from "./profile-form";

export default async function ProfilePage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main>
      <nav>
        <Link href="/dashboard">Dashboard</Link>
        <Link href="/dashboard/settings">Settings</Link>
      </nav>
      <h1>Profile</h1>
      <ProfileForm />
    </main>
  );
}
