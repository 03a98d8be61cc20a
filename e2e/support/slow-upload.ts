import net from "node:net";

import { appPort } from "./settings";

export type SlowUploadResult = {
  /** The response's status code, or null when the socket closed without one. */
  status: number | null;
  /** Body bytes written and flushed to the kernel before the first response byte arrived. */
  bytesSentBeforeResponse: number;
  /** The response's JSON body (sent with Content-Length or chunked), or "". */
  responseBody: string;
};

// 16 KiB every 10 ms (about 1.6 MiB/s): slow enough that "sent" is close to "could have been read".
const chunkBytes = 16 * 1024;
const chunkIntervalMs = 10;

/**
 * POSTs `declaredBytes` of body slowly to the app over a raw socket, declared up front
 * (`Content-Length`) or streamed (`Transfer-Encoding: chunked`), and stops sending at the first
 * response byte: how much a server reads (or buffers) of an upload before it answers.
 */
export function slowUpload(options: {
  path: string;
  headers: Record<string, string>;
  framing: "content-length" | "chunked";
  declaredBytes: number;
}): Promise<SlowUploadResult> {
  const { framing, declaredBytes } = options;
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
      const body = /\r\n\r\n[\s\S]*?(\{[\s\S]*\})/.exec(text)?.[1] ?? "";
      resolve({ status: status ? Number(status) : null, bytesSentBeforeResponse: bytesSentBeforeResponse ?? bytesSent, responseBody: body });
    };

    socket.on("connect", () => {
      const head = [
        `POST ${options.path} HTTP/1.1`,
        `Host: localhost:${appPort}`,
        ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
        framing === "content-length" ? `Content-Length: ${declaredBytes}` : "Transfer-Encoding: chunked",
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
