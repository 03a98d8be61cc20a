"use client";

import { QueryClient, QueryClientProvider, useQueryClient } from "@tanstack/react-query";

import { useSessionScoped } from "./session-scope";
import type { SyncedUserLike, UserSyncResult } from "./use-user-sync";
import { UserSyncCallbackProvider, type UserSyncCallbackProps } from "./user-sync-callback-provider";

/**
 * What the provider uses of the host's tRPC React client (`createTRPCReact<AppRouter>()`), whose
 * app router mounts the plugin's router at `user`. Only the shape: any router that does fits.
 */
export type UserSyncTRPC<TUser extends SyncedUserLike> = {
  useUtils(): {
    client: { user: { sync: { mutate(): Promise<UserSyncResult<TUser>> } } };
    user: { me: { fetch(): Promise<TUser | null>; setData(input: undefined, data: NoInfer<TUser> | null): unknown } };
  };
  // `never`: the provider hands back the host's own client, whatever its router type.
  Provider: (props: { client: never; queryClient: QueryClient; children: React.ReactNode }) => React.ReactNode;
};

export type UserSyncProviderProps<TUser extends SyncedUserLike> =
  | (Omit<UserSyncCallbackProps<TUser>, "sync" | "load"> & { trpc: UserSyncTRPC<TUser> })
  | UserSyncCallbackProps<TUser>;

/**
 * Syncs the signed-in Clerk user into the app's database once per Clerk session, without
 * blocking rendering. Place it inside `ClerkProvider` and the host's tRPC provider, and pass the
 * host's tRPC React client: `<UserSyncProvider trpc={api}>`.
 *
 * Everything under it reads a React Query cache of the current Clerk session: on the render where
 * the session changes (an account switch, a sign-out, a sign-in) the subtree remounts with an
 * empty cache (the host's default options), so no query of one account (`user.me` or any other)
 * is ever shown under another. A sync's row is put in `user.me`'s cache.
 *
 * Without a tRPC client, pass `sync` (calls `user.sync`) and optionally `load` (reads `user.me`)
 * and scope the host's cache yourself with `useSessionScoped`.
 */
export function UserSyncProvider<TUser extends SyncedUserLike>(props: UserSyncProviderProps<TUser>) {
  return "trpc" in props ? <SessionScopedTRPC {...props} /> : <UserSyncCallbackProvider {...props} />;
}

// One stable factory per host QueryClient: useSessionScoped keeps one cache per factory.
const factories = new WeakMap<QueryClient, () => QueryClient>();

function sessionQueryClientFactory(host: QueryClient) {
  let create = factories.get(host);
  if (!create) {
    create = () => new QueryClient({ defaultOptions: host.getDefaultOptions() });
    factories.set(host, create);
  }
  return create;
}

function SessionScopedTRPC<TUser extends SyncedUserLike>(props: Omit<UserSyncCallbackProps<TUser>, "sync" | "load"> & { trpc: UserSyncTRPC<TUser> }) {
  const { trpc } = props;
  const { key, value: queryClient } = useSessionScoped(sessionQueryClientFactory(useQueryClient()));
  const client = trpc.useUtils().client;
  return (
    <QueryClientProvider key={key} client={queryClient}>
      <trpc.Provider client={client as never} queryClient={queryClient}>
        <TRPCUserSync {...props} />
      </trpc.Provider>
    </QueryClientProvider>
  );
}

function TRPCUserSync<TUser extends SyncedUserLike>({ trpc, ...props }: Omit<UserSyncCallbackProps<TUser>, "sync" | "load"> & { trpc: UserSyncTRPC<TUser> }) {
  const utils = trpc.useUtils();
  const sync = async () => {
    const result = await utils.client.user.sync.mutate();
    // A tombstone is no one's `user.me`.
    const live = result.user && !("deletedAt" in result.user && result.user.deletedAt) ? result.user : null;
    utils.user.me.setData(undefined, live);
    return result;
  };
  // The callback provider reads its props when it calls them: new functions each render are fine.
  return <UserSyncCallbackProvider {...props} sync={sync} load={() => utils.user.me.fetch()} />;
}
