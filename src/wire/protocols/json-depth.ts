import { Code, ConnectError } from "@connectrpc/connect";

const quote = 0x22;
const backslash = 0x5c;
const open = new Set([0x7b, 0x5b]);
const close = new Set([0x7d, 0x5d]);

/**
 * InvalidArgument when the JSON text nests objects and arrays deeper than
 * maxDepth. One pass over the bytes, before any parse: a deeply nested body
 * costs no more than its length. UTF-8 continuation bytes are never ASCII,
 * so scanning bytes is exact.
 */
export function assertJsonDepth(bytes: Uint8Array, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === backslash) i++;
      else if (b === quote) inString = false;
    } else if (b === quote) inString = true;
    else if (open.has(b)) {
      if (++depth > maxDepth) throw new ConnectError(`JSON nests deeper than ${maxDepth} levels`, Code.InvalidArgument);
    } else if (close.has(b)) depth--;
  }
}

/**
 * connect's JSON serialization decodes each message's bytes with its
 * jsonOptions.textDecoder before parsing (after decompression, on every
 * protocol and for Connect GET): this one checks the depth first.
 */
export function depthCheckingJsonOptions(maxDepth: number): { textDecoder: { decode(input?: Uint8Array): string } } {
  const utf8 = new TextDecoder();
  return {
    textDecoder: {
      decode(input = new Uint8Array(0)) {
        assertJsonDepth(input, maxDepth);
        return utf8.decode(input);
      },
    },
  };
}
