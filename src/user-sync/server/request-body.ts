/** The one capped reader of a request body (webhook deliveries, avatar uploads). */
export class BodyTooLargeError extends Error {
  constructor(readonly bytesRead: number) {
    super("The request body is larger than allowed");
    this.name = "BodyTooLargeError";
  }
}

/**
 * Reads a request body into memory, but never more than `maxBytes`: as soon as one more byte
 * arrives the stream is cancelled and `BodyTooLargeError` thrown.
 */
export async function readWithCap(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new BodyTooLargeError(total);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
