import { Show, SignInButton } from "@clerk/nextjs";
import Link from "next/link";

export default function HomePage() {
  return (
    <main>
      <h1>Clerk user sync</h1>
      <p>
        Clerk owns identity; this app owns its data. When a signed-in user opens any page, the app syncs that
        user from Clerk into its own <code>users</code> table, once per session, whatever happened to webhooks.
      </p>
      <Show when="signed-out">
        <SignInButton forceRedirectUrl="/dashboard">
          <button type="button">Sign in</button>
        </SignInButton>
      </Show>
      <Show when="signed-in">
        <Link className="button" href="/dashboard">
          Go to the dashboard
        </Link>
      </Show>
    </main>
  );
}
