"use client";

import { useState } from "react";

import type { ConsoleUsersPage } from "~/server/console";
import { api } from "~/trpc/react";

type ConsoleUser = ConsoleUsersPage["users"][number];
type Tier = ConsoleUser["tier"];

const tiers: Tier[] = ["FREE", "PRO", "MAXX"];

function UserRow({ user }: { user: ConsoleUser }) {
  const utils = api.useUtils();
  const setTier = api.admin.setUserTier.useMutation({ onSuccess: () => utils.admin.users.invalidate() });
  const label = user.name ?? user.email ?? user.phoneNumber ?? user.id;
  return (
    <tr data-user-id={user.id} className="border-t border-slate-200">
      <td className="max-w-0 py-2 pr-3">
        <div className="truncate font-medium text-slate-900">{label}</div>
        <code className="block truncate font-mono text-xs text-slate-500">{user.id}</code>
      </td>
      <td className="hidden max-w-0 truncate py-2 pr-3 text-slate-700 sm:table-cell">{user.email ?? user.phoneNumber ?? "no email or phone"}</td>
      <td className="py-2 pr-3">
        <select
          aria-label={`Tier of ${label}`}
          className="rounded-lg border border-slate-300 bg-white px-2 py-1.5 text-sm"
          value={setTier.isPending && setTier.variables ? setTier.variables.tier : user.tier}
          disabled={setTier.isPending}
          onChange={(event) => setTier.mutate({ userId: user.id, tier: event.target.value as Tier })}
        >
          {tiers.map((tier) => (
            <option key={tier} value={tier}>
              {tier}
            </option>
          ))}
        </select>
      </td>
      <td className="py-2 text-sm" aria-live="polite" data-testid="tier-result">
        {setTier.isPending ? (
          <span className="text-slate-600">Saving…</span>
        ) : setTier.error ? (
          <span className="text-red-700">{setTier.error.message}</span>
        ) : setTier.data ? (
          <span className="text-emerald-700">Saved: {setTier.data.tier}</span>
        ) : null}
      </td>
    </tr>
  );
}

/** Live users, newest first, ten per page, with a tier select calling `admin.setUserTier`. */
export function UsersTable() {
  const [page, setPage] = useState(0);
  const usersPage = api.admin.users.useQuery({ page }, { placeholderData: (previous) => previous });
  const data = usersPage.data;
  const pages = data ? Math.max(1, Math.ceil(data.total / data.pageSize)) : 1;
  return (
    <section className="card" aria-labelledby="users-title" data-testid="users-table">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 id="users-title" className="text-lg font-semibold">
          Users and their tier
        </h2>
        <p className="text-sm text-slate-600">{data ? `${data.total} live users, newest first` : " "}</p>
      </div>
      <p className="mt-1 text-sm text-slate-600">The tier is the app’s own column: user sync never writes it, only this admin action does.</p>
      {usersPage.error && (
        <p role="alert" className="mt-4 text-sm text-red-800">
          The users could not be read: {usersPage.error.message}
        </p>
      )}
      {data && (
        <>
          <table className="mt-4 w-full table-fixed text-left text-sm">
            <thead className="text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th scope="col" className="w-[40%] py-2 pr-3 font-medium">
                  User
                </th>
                <th scope="col" className="hidden w-[30%] py-2 pr-3 font-medium sm:table-cell">
                  Email or phone
                </th>
                <th scope="col" className="w-28 py-2 pr-3 font-medium">
                  Tier
                </th>
                <th scope="col" className="py-2 font-medium">
                  <span className="sr-only">Result</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.users.map((user) => (
                <UserRow key={user.id} user={user} />
              ))}
            </tbody>
          </table>
          {data.users.length === 0 && <p className="mt-3 text-sm text-slate-600">No live users yet.</p>}
          <div className="mt-4 flex items-center justify-end gap-3 text-sm">
            <span className="text-slate-600">
              Page {page + 1} of {pages}
            </span>
            <button type="button" className="btn" disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
              Previous
            </button>
            <button type="button" className="btn" disabled={page + 1 >= pages} onClick={() => setPage((p) => p + 1)}>
              Next
            </button>
          </div>
        </>
      )}
    </section>
  );
}
