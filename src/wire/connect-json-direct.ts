import type { IncomingMessage, ServerResponse } from "node:http";
import { create, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createAsyncIterable,
  createMethodSerializationLookup,
  validateReadWriteMaxBytes,
  type MethodSerializationLookup,
  type UniversalHandler,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes, parseTimeout, trailerMux } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { TokenVerifier } from "../domain/auth/token-verifier.js";
import { openJsonAnswerSlot, type JsonAnswerOptions } from "./encoded-json-answers.js";
import { bearerVerifies } from "./interceptors/auth-interceptor.js";
import { fixedCallError } from "./protocols/parse-error-status.js";
import { readBody } from "./request-body.js";
import { fetchHeaders } from "./request-headers.js";
import { connectionClosed, runUnaryCall, type UnaryCall } from "./unary-call.js";

export interface ConnectJsonDirectOptions {
  /** ModelService's unary RPCs, with the interceptors registered on the router (connect-routes.ts). */
  calls: ReadonlyMap<DescMethod, UnaryCall>;
  /** The router's handler of each RPC: a request left to connect after its body was read goes there. */
  handlers: ReadonlyMap<DescMethod, UniversalHandler>;
  verifier: TokenVerifier;
  /** The adapter's JSON and compression options. */
  jsonAnswers: JsonAnswerOptions;
  /** The adapter's readMaxBytes. */
  readMaxBytes: number;
}

/** connect's unary JSON content type (contentTypeUnaryRegExp without proto). */
const unaryJson = /^application\/json(?:; ?charset=utf-?8)?$/i;

/** Writes an answer as connect-node writes a unary one: its headers with the body's length, then the body. */
function respond(res: ServerResponse, status: number, header: Headers, body: Uint8Array): void {
  header.set("content-length", String(body.byteLength));
  const out: Record<string, string> = {};
  header.forEach((value, name) => (out[name] = value));
  res.writeHead(status, out);
  res.end(body);
}

/**
 * Connect unary JSON calls (POST, HTTP/1.1) run straight on their RPC's
 * implementation and interceptors (unary-call.ts), as connect's Connect
 * handler runs them but without its universal request and response: the same
 * body limit, JSON decoding (the adapter's serialization), deadline, context,
 * compression negotiation, answer from its encoded JSON, and error JSON with
 * its status, fixed as the adapter's wrappers fix it (parse-error-status.ts).
 * As authenticate-before-body.ts does, a call whose token does not verify
 * runs with an empty message and its body is never read.
 *
 * Taken only in the plain case, decided from the headers: a content type
 * connect reads as unary JSON, a declared length within the limit, no request
 * compression, a well-formed connect-timeout-ms. Every other request, and
 * one whose body does not decode, is connect's to answer (false, or the
 * router's handler given the bytes read).
 */
export function connectJsonDirect(options: ConnectJsonDirectOptions): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  // The adapter's serialization of each method, as connect makes it (same options, same limits).
  const limits = validateReadWriteMaxBytes(options.readMaxBytes, undefined, options.jsonAnswers.compressMinBytes);
  const serializations = new Map<DescMethod, MethodSerializationLookup<DescMessage, DescMessage>>();
  const serialization = (method: DescMethod) => {
    let lookup = serializations.get(method);
    if (lookup === undefined) {
      lookup = createMethodSerializationLookup(method, undefined, options.jsonAnswers.jsonOptions, limits);
      serializations.set(method, lookup);
    }
    return lookup;
  };
  const byPath = new Map<string, { call: UnaryCall; handler: UniversalHandler }>();
  for (const [method, handler] of options.handlers) {
    const call = options.calls.get(method);
    if (call) byPath.set(handler.requestPath, { call, handler });
  }
  return (req, res, path) => {
    if (req.method !== "POST" || req.httpVersionMajor !== 1) return false;
    const { call, handler } = byPath.get(path) ?? {};
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (call === undefined || handler === undefined || !(declared <= options.readMaxBytes) || req.headers["content-encoding"] !== undefined) return false;
    if (!unaryJson.test(req.headers["content-type"] ?? "")) return false;
    const timeout = parseTimeout((req.headers["connect-timeout-ms"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) return false;
    serve(req, res, call, handler, timeout.timeoutMs, serialization(call.spec.method), options).catch(() => {
      if (!res.headersSent) respond(res, 500, new Headers({ "content-type": "application/json" }), errorToJsonBytes(new ConnectError("internal error", Code.Internal), {}));
      else res.destroy();
    });
    return true;
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  call: UnaryCall,
  handler: UniversalHandler,
  timeoutMs: number | undefined,
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  options: ConnectJsonDirectOptions,
): Promise<void> {
  const method = call.spec.method;
  const { jsonOptions, acceptCompression, compressMinBytes } = options.jsonAnswers;
  const verified = await bearerVerifies(options.verifier, req.headers.authorization);
  let input: MessageShape<DescMessage>;
  // connect decodes the stand-in of authenticate-before-body.ts, {}, to the empty message.
  if (!verified) input = create(method.input);
  else {
    // node's parser holds the body to its declared length, which is within the limit.
    const { chunks, ended } = await readBody(req, options.readMaxBytes);
    if (!ended) return;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    try {
      input = serialization.getI(false).parse(bytes);
    } catch {
      const uRes = await handler({ ...universalRequestFromNodeRequest(req, res, undefined, undefined), body: createAsyncIterable([bytes]) });
      return universalResponseToNodeResponse(uRes, res);
    }
  }
  const contextValues = createContextValues();
  const encodedAnswer = openJsonAnswerSlot(contextValues, options.jsonAnswers);
  const outcome = await runUnaryCall(call, input, {
    protocolName: "connect",
    requestMethod: "POST",
    url: `http://${req.headers.host ?? "localhost"}${req.url}`,
    requestHeader: fetchHeaders(req.headers),
    responseHeader: { "content-type": "application/json" },
    timeoutMs,
    onClientGone: (gone) => res.once("close", () => gone(connectionClosed)),
    contextValues,
  });
  const compression = compressionNegotiate(acceptCompression, null, req.headers["accept-encoding"] ?? null, "accept-encoding").response;
  const header = outcome.responseHeader;
  if (outcome.ok) {
    let answer = await encodedAnswer(compression);
    if (answer === undefined) {
      const plain = serialization.getO(false).serialize(outcome.message);
      answer = compression && plain.byteLength >= compressMinBytes ? { bytes: await compression.compress(plain), encoding: compression.name } : { bytes: plain };
    }
    if (answer.encoding !== undefined) header.set("content-encoding", answer.encoding);
    return respond(res, 200, trailerMux(header, outcome.trailer), answer.bytes);
  }
  // As connect writes the error, then as invalidArgumentForParseErrors rewrites it when it needs fixing.
  header.set("content-type", "application/json");
  outcome.error.metadata.forEach((value, key) => header.set(key, value));
  const written = errorToJsonBytes(outcome.error, jsonOptions);
  const fixed = fixedCallError(errorFromJsonBytes(written, undefined, new ConnectError("", Code.Unknown)));
  if (fixed !== undefined) return respond(res, codeToHttpStatus(fixed.code), trailerMux(header, outcome.trailer), errorToJsonBytes(fixed, {}));
  let body = written;
  if (compression && body.byteLength >= compressMinBytes) {
    body = await compression.compress(body);
    header.set("content-encoding", compression.name);
  }
  respond(res, codeToHttpStatus(outcome.error.code), trailerMux(header, outcome.trailer), body);
}
