import { userSync } from "~/server/user-sync";

/** Reconciliation with Clerk (`?dry_run=true|false&mode=full|incremental`). Bearer `ADMIN_API_KEY`. */
export function POST(request: Request): Promise<Response> {
  return userSync.admin.reconcile(request);
}
