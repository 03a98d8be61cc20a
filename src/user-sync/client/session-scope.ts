"use client";

import { useAuth } from "@clerk/nextjs";

type Slot = { sessionId: string | null | undefined; key: string; value: unknown };

// Module state, like create-t3-app's browser QueryClient singleton: it survives a render that
// React throws away (a suspended first render), so the cache is not made twice.
const slots = new WeakMap<() => unknown, Slot>();
let slotCount = 0;

/**
 * One value per Clerk session (the host's React Query client, a store), and a `key` that
 * changes with it. Render what uses the value under `key={key}`: on the render where the
 * session changes (an account switch, a sign-out, a sign-in) React remounts that subtree with
 * a new value, so nothing cached or held for one account is ever rendered under another.
 *
 * While Clerk loads (no session known yet) the page keeps its first value, and the session
 * Clerk then reports adopts it: loading Clerk remounts nothing. Pass a stable, module-level
 * `create`; on the server each render gets a new value (one per request).
 *
 * @example
 * const { key, value: queryClient } = useSessionScoped(createQueryClient);
 * return <QueryClientProvider key={key} client={queryClient}>{children}</QueryClientProvider>;
 */
export function useSessionScoped<T>(create: () => T): { key: string; value: T } {
  const { isLoaded, sessionId } = useAuth();
  if (typeof window === "undefined") return { key: "server", value: create() };
  const known = isLoaded ? (sessionId ?? null) : undefined;
  let slot = slots.get(create);
  // Clerk reports the session the page loaded with: it adopts the page's first value.
  if (slot && known !== undefined && slot.sessionId === undefined) slot.sessionId = known;
  if (!slot || (known !== undefined && slot.sessionId !== known)) {
    slot = { sessionId: known, key: `session-scope-${++slotCount}`, value: create() };
    slots.set(create, slot);
  }
  return { key: slot.key, value: slot.value as T };
}
