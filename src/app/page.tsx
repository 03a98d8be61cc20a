import { Show, SignInButton } from "@clerk/nextjs";
import Link from "next/link";

const features = [
  {
    title: "Synced on sign-in",
    text: "Once per Clerk session the browser asks the server to sync; the server takes the identity from the verified session and fetches the user from Clerk.",
  },
  {
    title: "Webhooks welcome, not required",
    text: "Signed Clerk webhooks go through the same guarded write path: idempotent, ordered by Clerk's clock, deletions never undone.",
  },
  {
    title: "Your columns stay yours",
    text: "Clerk owns identity, the app owns its data: sync only writes the columns it owns, never app columns such as a plan or tier.",
  },
];

export default function HomePage() {
  return (
    <main className="page">
      <section className="py-8 sm:py-14">
        <p className="text-sm font-semibold tracking-wide text-indigo-600 uppercase">Clerk · tRPC · Drizzle · PostgreSQL</p>
        <h1 className="mt-3 max-w-3xl text-4xl font-semibold tracking-tight text-slate-900 sm:text-5xl">Clerk user sync</h1>
        <p className="mt-4 max-w-2xl text-lg leading-relaxed text-slate-600">
          Clerk owns identity; this app owns its data. When a signed-in user opens any page, the app syncs that user from
          Clerk into its own <code className="rounded bg-slate-100 px-1 py-0.5 text-base">users</code> table, once per session,
          whatever happened to webhooks.
        </p>
        <div className="mt-8 flex flex-wrap gap-3">
          <Show when="signed-out">
            <SignInButton forceRedirectUrl="/dashboard">
              <button type="button" className="btn btn-primary px-5 py-2.5 text-base">
                Sign in
              </button>
            </SignInButton>
          </Show>
          <Show when="signed-in">
            <Link className="btn btn-primary px-5 py-2.5 text-base" href="/dashboard">
              Go to the dashboard
            </Link>
          </Show>
        </div>
      </section>
      <section aria-label="How it works" className="grid gap-4 sm:grid-cols-3">
        {features.map((feature) => (
          <div key={feature.title} className="card">
            <h2 className="font-semibold text-slate-900">{feature.title}</h2>
            <p className="mt-2 text-sm leading-relaxed text-slate-600">{feature.text}</p>
          </div>
        ))}
      </section>
    </main>
  );
}
