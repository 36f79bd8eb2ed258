import { toJsonString, type DescMessage, type JsonWriteOptions, type MessageShape } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues } from "@connectrpc/connect";
import { compressionNegotiate, createAsyncIterable, type Compression, type UniversalHandler, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import { openAnswerSlot, type TakenAnswer } from "./answer-slot.js";

/**
 * Answers kept already encoded for Connect JSON and REST, the JSON twin of
 * encoded-answers.ts. connect serializes JSON itself (toJsonString) and
 * offers no hook for bytes made earlier, so the handler of a JSON call hands
 * its answer to this call's slot (answer-slot.ts) and returns an empty message instead; connect
 * runs every interceptor and writes its headers as ever, and the handler
 * below swaps the empty message's bytes for the answer's, encoded once per
 * answer and compressed once per encoding, exactly as connect would have
 * (same JSON options, same compression negotiation and threshold).
 *
 * The bytes live exactly as long as their answer (a WeakMap): the read cache
 * hands out one answer object per reader and request until the next commit,
 * so a changed model or another reader never meets them, and the read cache
 * counts them in its bytes (model-reads.ts).
 *
 * Per answer: the plain bytes, and their compressed forms as they are asked for.
 */
const encoded = new WeakMap<object, Map<string, Uint8Array>>();
const utf8 = new TextEncoder();

/** A Connect unary JSON POST (REST's calls are too); a Connect GET keeps connect's own serialization. */
const unaryJson = /^application\/json\s*(;|$)/i;

export interface JsonAnswerOptions {
  /** The adapter's own: the bytes must be the ones connect would write. */
  jsonOptions: Partial<JsonWriteOptions>;
  /** The adapter's acceptCompression (connect-node's default: gzip, br). */
  acceptCompression: Compression[];
  /** The adapter's compressMinBytes (connect's default: 1024). */
  compressMinBytes: number;
}

function formsOf(answer: TakenAnswer, jsonOptions: Partial<JsonWriteOptions>): Map<string, Uint8Array> {
  let forms = encoded.get(answer.message);
  if (forms === undefined) {
    // As connect encodes JSON: a buffer of its own (node pools small Buffers in shared 8 KiB slabs, which a kept answer would pin).
    forms = new Map([["identity", utf8.encode(toJsonString(answer.schema, answer.message as MessageShape<DescMessage>, jsonOptions))]]);
    encoded.set(answer.message, forms);
  }
  return forms;
}

/**
 * For a call run without connect's handler (REST and Connect JSON,
 * unary-call.ts): opens the slot takeJsonAnswer fills, and returns what reads
 * it once the call has run: the answer's JSON bytes for the negotiated
 * compression, as connect would write them, or undefined when the
 * implementation offered none (then the returned message is the answer).
 */
export function openJsonAnswerSlot(
  values: ContextValues,
  options: JsonAnswerOptions,
): (compression: Compression | null) => Promise<{ bytes: Uint8Array; encoding?: string } | undefined> {
  const taken = openAnswerSlot(values);
  return async (compression) => {
    const answer = taken();
    return answer && bytesOf(answer, compression, options);
  };
}

async function bytesOf(answer: TakenAnswer, compression: Compression | null, options: JsonAnswerOptions): Promise<{ bytes: Uint8Array; encoding?: string }> {
  const forms = formsOf(answer, options.jsonOptions);
  const plain = forms.get("identity")!;
  if (compression === null || plain.byteLength < options.compressMinBytes) return { bytes: plain };
  let compressed = forms.get(compression.name);
  if (compressed === undefined) {
    compressed = await compression.compress(plain);
    forms.set(compression.name, compressed);
  }
  return { bytes: compressed, encoding: compression.name };
}

/** A unary RPC's handler whose Connect JSON and REST answers come from their encoded bytes when the implementation offers them (takeJsonAnswer). */
export function servingEncodedJson(handler: UniversalHandler, options: JsonAnswerOptions): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest) => {
    if (req.method !== "POST" || !unaryJson.test(req.header.get("content-type") ?? "")) return handler(req);
    const contextValues = req.contextValues ?? createContextValues();
    const taken = openAnswerSlot(contextValues);
    const res = await handler({ ...req, contextValues });
    const answer = taken();
    if (answer === undefined || res.status !== 200) return res;
    // Negotiated as connect's Connect handler does for a unary call.
    const { response } = compressionNegotiate(options.acceptCompression, req.header.get("content-encoding"), req.header.get("accept-encoding"), "accept-encoding");
    const { bytes, encoding } = await bytesOf(answer, response, options);
    const header = res.header ?? new Headers();
    if (encoding === undefined) header.delete("content-encoding");
    else header.set("content-encoding", encoding);
    header.set("content-length", String(bytes.byteLength));
    return { ...res, header, body: createAsyncIterable([bytes]) };
  };
  return Object.assign(wrapped, handler);
}
