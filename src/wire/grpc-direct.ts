import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { BinaryReadOptions, DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createAsyncIterable,
  createMethodSerializationLookup,
  validateReadWriteMaxBytes,
  type Compression,
  type MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import { contentTypeProto, grpcStatusOk, parseContentType, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { TokenVerifier } from "../domain/auth/token-verifier.js";
import { openAnswerSlot } from "./answer-slot.js";
import { grpcFrame, messageFrame } from "./encoded-answers.js";
import { nodeHeaders, resetError, type DirectStreams } from "./http2-rpc-streams.js";
import { bearerVerifies } from "./interceptors/auth-interceptor.js";
import { fixGrpcCallTrailer } from "./protocols/parse-error-status.js";
import { readBody } from "./request-body.js";
import { fetchHeaders } from "./request-headers.js";
import { runUnaryCall, type UnaryCall } from "./unary-call.js";

export interface GrpcDirectOptions {
  /** ModelService's unary RPCs, with the interceptors registered on the router (connect-routes.ts). */
  calls: ReadonlyMap<DescMethod, UnaryCall>;
  verifier: TokenVerifier;
  /** The adapter's binary read options, limit and compression settings: the call decodes and answers as connect would. */
  binaryOptions: Partial<BinaryReadOptions>;
  readMaxBytes: number;
  acceptCompression: Compression[];
  compressMinBytes: number;
}

/** Why a call's context aborts when its stream closes before the answer without a reset code. */
const streamClosed = new ConnectError("the client closed the stream", Code.Canceled);

/** The chunks of a request body read so far, then the rest of the stream. */
async function* bodyFrom(read: Uint8Array[], rest: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* read;
  yield* rest;
}

/** The message of a request body that is one whole uncompressed gRPC frame within the limit, as connect decodes it; undefined for anything else. */
function unaryInput(body: Uint8Array, serialization: MethodSerializationLookup<DescMessage, DescMessage>, readMaxBytes: number): MessageShape<DescMessage> | undefined {
  if (body.byteLength < 5 || body[0] !== 0) return undefined;
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if (length !== body.byteLength - 5 || length > readMaxBytes) return undefined;
  try {
    return serialization.getI(true).parse(body.subarray(5));
  } catch {
    return undefined;
  }
}

/**
 * gRPC unary calls (HTTP/2, protobuf binary) run straight on their RPC's
 * implementation and interceptors (unary-call.ts), as connect's gRPC handler
 * runs them but without its universal request and response and its
 * async-iterable pipeline. What connect does around the call is done with
 * connect's own pieces: the method's serialization with the adapter's binary
 * options and limit, grpc-timeout parsing, grpc-accept-encoding negotiation
 * and the compression threshold, the envelope, and the trailer status
 * (setTrailerStatus), fixed as the adapter's wrapper fixes call errors
 * (parse-error-status.ts). The answer is the one connect writes: 200, its
 * content type and grpc-encoding, the frame, then the trailers.
 *
 * Taken only in the plain case: content type application/grpc or
 * application/grpc+proto, no grpc-encoding header (an uncompressed request,
 * as grpc-js sends), a well-formed grpc-timeout, a bearer token that
 * verifies, and a body that is one uncompressed frame that decodes. Every
 * other call goes to connect, with the body as far as read; connect answers
 * it, and a token that does not verify, as ever (authenticate-before-body.ts).
 */
export function grpcDirect(options: GrpcDirectOptions): DirectStreams {
  const limits = validateReadWriteMaxBytes(options.readMaxBytes, undefined, options.compressMinBytes);
  const serializations = new Map<DescMethod, MethodSerializationLookup<DescMessage, DescMessage>>();
  for (const method of options.calls.keys()) serializations.set(method, createMethodSerializationLookup(method, options.binaryOptions, undefined, limits));
  return (method, headers) => {
    const call = options.calls.get(method);
    if (call === undefined || headers["grpc-encoding"] !== undefined || parseContentType(headers["content-type"] ?? null)?.binary !== true) return undefined;
    const timeout = parseTimeout((headers["grpc-timeout"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) return undefined;
    const serialization = serializations.get(method)!;
    return (stream, throughConnect) => {
      serve(stream, headers, call, serialization, timeout.timeoutMs, throughConnect, options).catch(() => {
        // connect reports every call failure in the trailer; what is left is a broken stream: reset it.
        if (!stream.destroyed) stream.close(0x2);
      });
    };
  };
}

async function serve(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  call: UnaryCall,
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  timeoutMs: number | undefined,
  throughConnect: (body: AsyncIterable<Uint8Array>) => void,
  options: GrpcDirectOptions,
): Promise<void> {
  if (!(await bearerVerifies(options.verifier, headers.authorization))) return throughConnect(stream.iterator({ destroyOnReturn: false }));
  const { chunks, ended } = await readBody(stream, options.readMaxBytes + 5);
  if (stream.destroyed) return;
  if (!ended) return throughConnect(bodyFrom(chunks, stream.iterator({ destroyOnReturn: false })));
  const input = unaryInput(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), serialization, options.readMaxBytes);
  if (input === undefined) return throughConnect(createAsyncIterable(chunks));

  const compression = compressionNegotiate(options.acceptCompression, null, (headers["grpc-accept-encoding"] as string | undefined) ?? null, "grpc-accept-encoding").response;
  const responseHeader: Record<string, string> = { "content-type": contentTypeProto };
  if (compression) responseHeader["grpc-encoding"] = compression.name;
  const contextValues = createContextValues();
  const taken = openAnswerSlot(contextValues);
  const outcome = await runUnaryCall(call, input, {
    protocolName: "grpc",
    requestMethod: "POST",
    url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
    requestHeader: fetchHeaders(headers),
    responseHeader,
    responseTrailer: { "grpc-status": String(grpcStatusOk) },
    timeoutMs,
    onClientGone: (gone) => stream.once("close", () => gone(resetError(stream.rstCode) ?? streamClosed)),
    contextValues,
  });
  let frame: Uint8Array | undefined;
  if (outcome.ok) {
    const answer = taken();
    frame = answer
      ? await grpcFrame(answer, compression, options.compressMinBytes)
      : await messageFrame(serialization.getO(true).serialize(outcome.message), compression, options.compressMinBytes);
  } else {
    setTrailerStatus(outcome.trailer, outcome.error);
    fixGrpcCallTrailer(outcome.trailer);
  }
  if (stream.destroyed) return;
  const trailer = outcome.trailer;
  stream.respond(nodeHeaders(outcome.responseHeader, { ":status": 200 }), { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(nodeHeaders(trailer, {})));
  stream.end(frame);
}
