/**
 * Background work (telemetry flushes and prunes, the webhook inbox prune) runs where the host's
 * platform waits for it: a serverless function is frozen, or ended, once its response is sent
 * and the work it registered (Next's `after`, Vercel's or Cloudflare's `waitUntil`) is done.
 */

/** The host's way to run work after the response where its platform waits for it (Next's `after`, `waitUntil`). */
export type BackgroundScheduler = (task: () => Promise<void>) => void;

/**
 * Hands `task` to the host's scheduler; false when there is none or it refused (Next's `after`
 * throws outside a request scope): then the caller runs the work its own way. The task's
 * failures are the caller's to report inside it; the scheduler never sees one.
 */
export function scheduleInBackground(schedule: BackgroundScheduler | undefined, task: () => Promise<void>): boolean {
  if (!schedule) return false;
  try {
    schedule(() => task().catch(() => undefined));
    return true;
  } catch {
    return false;
  }
}
