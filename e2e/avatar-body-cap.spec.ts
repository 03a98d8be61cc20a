/**
 * The avatar's 2 MiB cap against the production server (`next start`), over a raw socket: a
 * signed-in user uploading 50 MiB slowly to `user.updateAvatar` must get the 413 before the server
 * has read much more than the cap, whether the size is declared (`Content-Length`, refused before
 * any of the body is read) or not (chunked, read up to the cap). A route under clerkMiddleware's
 * matcher would have Next read the whole upload first (it buffers up to 10 MiB for the middleware
 * and drains the rest before the route runs); the spec prints the bytes sent before the answer.
 */
import { expect, test } from "./support/fixtures";
import { slowUpload } from "./support/slow-upload";

const declaredBytes = 50 * 1024 * 1024;
const capBytes = 2 * 1024 * 1024;
// The cap plus what the kernel's socket buffers and the stream's read-ahead hold.
const maxBytesBeforeRefusal = capBytes + 1024 * 1024;

test.describe("user.updateAvatar body cap on next start", () => {
  // On a server that reads the upload first, the whole 50 MiB takes about 32 s to send.
  test.setTimeout(120_000);

  for (const framing of ["content-length", "chunked"] as const) {
    test(`a signed-in user's slow 50 MiB upload (${framing}) gets its 413 before ${maxBytesBeforeRefusal} bytes were sent`, async ({ emulator, request }) => {
      const { token } = await emulator.createSession("user_demo_ada");
      const headers = { "Content-Type": "application/octet-stream", Authorization: `Bearer ${token}` };
      // The route's first request loads its bundle (a file that is no image: 415); that start-up is not what is measured.
      const warmUp = await request.post("/api/trpc/user.updateAvatar", { headers, data: Buffer.from("not an image") });
      expect(warmUp.status()).toBe(415);

      const result = await slowUpload({ path: "/api/trpc/user.updateAvatar", headers, framing, declaredBytes });
      console.log(`[avatar-body-cap] ${framing}: ${result.status} after ${result.bytesSentBeforeResponse} bytes sent`);
      test.info().annotations.push({ type: `bytes sent before the 413 (${framing})`, description: String(result.bytesSentBeforeResponse) });
      expect(result.status).toBe(413);
      expect(JSON.parse(result.responseBody)).toMatchObject({ error: { json: { data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } } } });
      expect(result.bytesSentBeforeResponse).toBeLessThan(maxBytesBeforeRefusal);
      // Nothing reached Clerk.
      expect(await emulator.count("updateUserProfileImage")).toBe(0);
    });
  }
});
