"use client";

import { useCallback } from "react";

import { api } from "~/trpc/react";
import { UserSyncProvider } from "~/user-sync/client";

/**
 * Wires the plugin's provider to this app's tRPC client. It renders under `TRPCReactProvider`,
 * whose query cache is the current Clerk session's (`useSessionScoped`), so the row written
 * into `user.me` here is only ever read back under the session that synced it.
 */
export function AppUserSync({ children }: { children: React.ReactNode }) {
  const utils = api.useUtils();
  const sync = useCallback(async () => {
    const result = await utils.client.user.sync.mutate();
    utils.user.me.setData(undefined, result.user && !result.user.deletedAt ? result.user : null);
    return result;
  }, [utils]);
  const load = useCallback(() => utils.user.me.fetch(), [utils]);
  return (
    <UserSyncProvider sync={sync} load={load}>
      {children}
    </UserSyncProvider>
  );
}
