"use client";

import { UserButton, useAuth, useUser } from "@clerk/nextjs";
import Link from "next/link";
import { usePathname } from "next/navigation";

/**
 * The header of every page. The console link is a hint only, from the signed-in user's Clerk
 * `public_metadata.role`; the console itself checks the role on the server.
 */
export function SiteHeader() {
  const pathname = usePathname();
  const { isSignedIn } = useAuth();
  const { user } = useUser();
  const isAdmin = user?.publicMetadata.role === "admin";
  const links = [
    { href: "/", label: "Home", show: true },
    { href: "/dashboard", label: "Dashboard", show: !!isSignedIn },
    { href: "/profile", label: "Profile", show: !!isSignedIn },
    { href: "/admin/sync", label: "Admin console", show: isAdmin },
  ];
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex w-full max-w-5xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3 sm:px-6">
        <Link href="/" className="flex items-center gap-2 font-semibold text-slate-900" aria-label="Clerk user sync, home">
          <span aria-hidden className="grid size-7 place-items-center rounded-lg bg-indigo-600 text-sm text-white">
            ⇄
          </span>
          <span aria-hidden>Clerk user sync</span>
        </Link>
        <nav aria-label="Main" className="flex flex-wrap items-center gap-1 text-sm">
          {links
            .filter((link) => link.show)
            .map((link) => {
              const current = pathname === link.href;
              return (
                <Link
                  key={link.href}
                  href={link.href}
                  aria-current={current ? "page" : undefined}
                  className={`rounded-md px-3 py-1.5 font-medium ${current ? "bg-indigo-50 text-indigo-700" : "text-slate-600 hover:bg-slate-100 hover:text-slate-900"}`}
                >
                  {link.label}
                </Link>
              );
            })}
        </nav>
        {isSignedIn && (
          <div className="ml-auto" data-testid="user-button">
            <UserButton />
          </div>
        )}
      </div>
    </header>
  );
}
