import { auth } from "@clerk/nextjs/server";

import { ProfileForm } from "./profile-form";

export default async function ProfilePage() {
  const { userId, redirectToSignIn } = await auth();
  if (!userId) return redirectToSignIn();
  return (
    <main className="page">
      <h1 className="page-title">Profile</h1>
      <p className="mt-1 text-slate-600">Your name, username and avatar are saved in Clerk first; your interests stay in this app.</p>
      <div className="mt-6">
        <ProfileForm />
      </div>
    </main>
  );
}
