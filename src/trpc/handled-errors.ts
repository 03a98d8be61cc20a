import { TRPCClientError } from "@trpc/client";

/**
 * The codes a page answers itself: input validation, Clerk's refusals (a taken username), a file
 * that is not an image or too large, a rate limit, a reconciliation already running. They are
 * shown in the page, so they are not logged as console errors (Next's dev overlay counts every
 * `console.error` as an issue). Anything else (a 5xx, a code no page expects) is still logged.
 */
export const handledErrorCodes: ReadonlySet<string> = new Set([
  "BAD_REQUEST",
  "UNPROCESSABLE_CONTENT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "TOO_MANY_REQUESTS",
  "CONFLICT",
]);

/** A tRPC error the app expects and shows in place (see `handledErrorCodes`). */
export function isHandledError(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const code = (error.data as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && handledErrorCodes.has(code);
}
