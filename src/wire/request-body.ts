import type { Readable } from "node:stream";

/**
 * A request body as it arrives, up to `maxBytes`, for the direct calls (with
 * data events, not the stream's async iterator: half the cost per call).
 * `ended` is false when it is longer, the stream then paused where reading
 * stopped, or when the stream closed first.
 */
export function readBody(stream: Readable, maxBytes: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (ended: boolean) => {
      stream.off("data", data);
      stream.off("end", end);
      stream.off("close", closed);
      stream.off("error", closed);
      resolve({ chunks, ended });
    };
    const data = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > maxBytes) {
        stream.pause();
        settle(false);
      }
    };
    const end = () => settle(true);
    const closed = () => settle(false);
    stream.on("data", data);
    stream.once("end", end);
    stream.once("close", closed);
    // A client gone mid-body fails the request stream: that ends the reading, it must not end the process.
    stream.once("error", closed);
  });
}
