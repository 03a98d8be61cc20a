/**
 * The webhook's 256 KiB cap against the production server (`next start`), over a raw socket:
 * an unauthenticated client uploading slowly must get its 413 before it has sent 1 MiB, so the
 * server never reads (or buffers) a large upload. No browser: a plain TCP client counts the
 * bytes it managed to hand to the kernel before the response's first byte came back.
 */
import { expect, test } from "@playwright/test";

import { slowUpload } from "./support/slow-upload";

const declaredBytes = 50 * 1024 * 1024;
const maxBytesBeforeRefusal = 1024 * 1024;

test.describe("POST /api/webhooks/clerk body cap on next start", () => {
  // On a server that reads the upload first, the whole 50 MiB takes about 32 s to send.
  test.setTimeout(90_000);

  for (const framing of ["content-length", "chunked"] as const) {
    test(`a slow 50 MiB upload (${framing}) gets its 413 before 1 MiB was sent`, async ({ request }) => {
      // The route's first request loads its bundle; that start-up is not what is measured here.
      expect((await request.post("/api/webhooks/clerk", { data: "{}" })).status()).toBe(400);
      const result = await slowUpload({
        path: "/api/webhooks/clerk",
        // Headers shaped like a Svix delivery (the signature is checked only after the body is read).
        headers: {
          "Content-Type": "application/json",
          "svix-id": "msg_body_cap",
          "svix-timestamp": String(Math.floor(Date.now() / 1000)),
          "svix-signature": "v1,c2lnbmF0dXJl",
        },
        framing,
        declaredBytes,
      });
      console.log(`[body-cap] ${framing}: 413 after ${result.bytesSentBeforeResponse} bytes sent (status ${result.status})`);
      test.info().annotations.push({ type: `bytes sent before the 413 (${framing})`, description: String(result.bytesSentBeforeResponse) });
      expect(result.status).toBe(413);
      expect(JSON.parse(result.responseBody)).toEqual({ error: "body_too_large" });
      expect(result.bytesSentBeforeResponse).toBeLessThan(maxBytesBeforeRefusal);
    });
  }
});
