/**
 * The webhook's 256 KiB cap against the production server (`next start`), over a raw socket:
 * an unauthenticated client uploading slowly must get its 413 before it has sent 1 MiB, so the
 * server never reads (or buffers) a large upload. No browser: a plain TCP client counts the
 * bytes it managed to hand to the kernel before the response's first byte came back.
 */
import net from "node:net";

import { expect, test } from "@playwright/test";

import { appPort } from "./support/settings";

const declaredBytes = 50 * 1024 * 1024;
const maxBytesBeforeRefusal = 1024 * 1024;
// 16 KiB every 10 ms (about 1.6 MiB/s): slow enough that "sent" is close to "could have been read".
const chunkBytes = 16 * 1024;
const chunkIntervalMs = 10;

type UploadResult = {
  /** The response's status code, or null when the socket closed without one. */
  status: number | null;
  /** Body bytes written and flushed to the kernel before the first response byte arrived. */
  bytesSentBeforeResponse: number;
  responseBody: string;
};

/**
 * POSTs a 50 MiB body slowly to the webhook route, declared up front (`Content-Length`) or
 * streamed (`Transfer-Encoding: chunked`), and stops sending at the first response byte.
 */
function slowUpload(framing: "content-length" | "chunked"): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(appPort, "localhost");
    const chunk = Buffer.alloc(chunkBytes, "x");
    let bytesSent = 0;
    let bytesSentBeforeResponse: number | null = null;
    let response = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;

    const finish = () => {
      clearInterval(timer);
      socket.destroy();
      const text = response.toString("latin1");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      // The JSON answer, whether sent with Content-Length or chunked.
      const body = /\r\n\r\n[\s\S]*?(\{[\s\S]*\})/.exec(text)?.[1] ?? "";
      resolve({ status: status ? Number(status) : null, bytesSentBeforeResponse: bytesSentBeforeResponse ?? bytesSent, responseBody: body });
    };

    socket.on("connect", () => {
      // Headers shaped like a Svix delivery (the signature is checked only after the body is read).
      const head = [
        "POST /api/webhooks/clerk HTTP/1.1",
        `Host: localhost:${appPort}`,
        "Content-Type: application/json",
        framing === "content-length" ? `Content-Length: ${declaredBytes}` : "Transfer-Encoding: chunked",
        "svix-id: msg_body_cap",
        `svix-timestamp: ${Math.floor(Date.now() / 1000)}`,
        "svix-signature: v1,c2lnbmF0dXJl",
        "Connection: close",
        "",
        "",
      ].join("\r\n");
      socket.write(head);
      timer = setInterval(() => {
        // One chunk at a time, only once the previous one left the process.
        if (bytesSentBeforeResponse !== null || socket.writableLength > 0 || socket.destroyed) return;
        if (bytesSent >= declaredBytes) {
          if (framing === "chunked") socket.write("0\r\n\r\n");
          clearInterval(timer);
          return;
        }
        const framed = framing === "chunked" ? Buffer.concat([Buffer.from(`${chunkBytes.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
        socket.write(framed, (error) => {
          if (!error) bytesSent += chunkBytes;
        });
      }, chunkIntervalMs);
    });
    socket.on("data", (data) => {
      bytesSentBeforeResponse ??= bytesSent;
      response = Buffer.concat([response, data]);
      // The whole (small, JSON) answer is in once its body has closed its braces.
      if (/\r\n\r\n[\s\S]*\}/.test(response.toString("latin1"))) finish();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // The server may reset the connection after answering; what it answered is what counts.
      if (response.length > 0 || error.code === "ECONNRESET" || error.code === "EPIPE") finish();
      else reject(error);
    });
    socket.on("close", finish);
  });
}

test.describe("POST /api/webhooks/clerk body cap on next start", () => {
  // On a server that reads the upload first, the whole 50 MiB takes about 32 s to send.
  test.setTimeout(90_000);

  for (const framing of ["content-length", "chunked"] as const) {
    test(`a slow 50 MiB upload (${framing}) gets its 413 before 1 MiB was sent`, async ({ request }) => {
      // The route's first request loads its bundle; that start-up is not what is measured here.
      expect((await request.post("/api/webhooks/clerk", { data: "{}" })).status()).toBe(400);
      const result = await slowUpload(framing);
      console.log(`[body-cap] ${framing}: 413 after ${result.bytesSentBeforeResponse} bytes sent (status ${result.status})`);
      test.info().annotations.push({ type: `bytes sent before the 413 (${framing})`, description: String(result.bytesSentBeforeResponse) });
      expect(result.status).toBe(413);
      expect(JSON.parse(result.responseBody)).toEqual({ error: "body_too_large" });
      expect(result.bytesSentBeforeResponse).toBeLessThan(maxBytesBeforeRefusal);
    });
  }
});
