import { userSync } from "~/server/user-sync";

/** Operators' health view of the user sync. Bearer `ADMIN_API_KEY`; see the plugin's admin.ts. */
export function GET(request: Request): Promise<Response> {
  return userSync.admin.health(request);
}
