/**
 * The context contract, checked by `tsc` (`npm run typecheck`) through the package's public
 * entry: the plugin's router mounts on a host whose tRPC context carries Clerk's `auth`, and a
 * host that forgot it gets a compile error (the `@ts-expect-error` below fails the typecheck
 * if that line ever compiles). router-context.test.ts checks the error's text names what to add.
 */
import { initTRPC } from "@trpc/server";
import { createUserSync, type MissingClerkAuth } from "clerk-user-sync/server";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";

import { testUsers as users } from "../testing";

const userSync = createUserSync({ db: drizzle(postgres()), users });

type ClerkAuth = { userId: string | null; getToken: () => Promise<string | null> };
const withAuth = initTRPC.context<{ headers: Headers; auth: ClerkAuth }>().create();
const withoutAuth = initTRPC.context<{ headers: Headers }>().create();

export const hostRouter = withAuth.router({ user: userSync.router(withAuth.router) });

export const forgotAuth = withoutAuth.router({
  // @ts-expect-error the host's context has no `auth`
  user: userSync.router(withoutAuth.router),
});

// What the argument must be instead: the message naming what to add.
export const expected: Parameters<typeof userSync.router<typeof withoutAuth.router>>[0] extends MissingClerkAuth ? true : false = true;
