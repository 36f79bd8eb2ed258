import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { constants as http2Constants, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { fromJsonString, type DescMethod, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createAsyncIterable,
  encodeEnvelope,
  pipe,
  readAllBytes,
  transformSplitEnvelope,
  type UniversalHandler,
} from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { HttpBodySchema } from "../../../gen/google/api/httpbody_pb.js";
import type { TokenVerifier } from "../../domain/auth/token-verifier.js";
import { invalidArgument } from "../../domain/validation/field-violations.js";
import { withoutSecrets } from "../protocols/secret-redaction.js";
import { bearerPrincipal } from "../interceptors/auth-interceptor.js";
import { assertJsonDepth } from "../protocols/json-depth.js";
import type { HttpBinding } from "./http-rules.js";
import { httpBodyField, httpBodyJson, jsonFieldProblem, transcodeRequest } from "./request-transcoder.js";
import { RestRouter } from "./rest-router.js";
import { resumeFromLastEventId, sseError, sseEvent, sseHeaders } from "./sse-stream.js";
import { restError } from "./status-json.js";

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

export interface RestOptions {
  bindings: readonly HttpBinding[];
  /** The router's handler of each RPC: REST calls run the very same handlers, interceptors and error path. */
  handlers: ReadonlyMap<DescMethod, UniversalHandler>;
  maxBodyBytes: number;
  /** When set, a call whose bearer token does not verify is neither read nor transcoded: it runs with an empty message, and auth refuses it. */
  verifier?: TokenVerifier;
  /** Deepest nesting a JSON body may have (InvalidArgument beyond); none when unset. */
  maxJsonDepth?: number;
}

/** Request headers that describe the REST request's own transport, not the call. */
const notForwarded = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "upgrade",
  "content-type",
  "content-length",
  "content-encoding",
  "accept-encoding",
]);

const jsonContentType = /^application\/json\s*(;|$)/i;

class RestFailure extends Error {
  constructor(
    readonly error: ConnectError,
    readonly status?: number,
  ) {
    super(error.message);
  }
}

function send(res: NodeResponse, status: number, headers: Record<string, string>, body?: string | Uint8Array): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendError(res: NodeResponse, error: ConnectError, status?: number, extra: Record<string, string> = {}): void {
  const rendered = restError(error, status);
  send(res, rendered.status, { ...rendered.headers, ...extra }, rendered.body);
}

function hasBody(req: NodeRequest): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  // HTTP/2 frames the body itself: no transfer-encoding, and content-length is optional.
  return req.httpVersionMajor === 2 || req.headers["transfer-encoding"] !== undefined;
}

/** A request the JSON decoder refused, as InvalidArgument whose field violation names the field. */
function namedDecodeError(error: ConnectError, binding: HttpBinding, request: JsonValue): ConnectError {
  if (error.code !== Code.InvalidArgument || error.details.length > 0) return error;
  const violation = jsonFieldProblem(binding.method.input, request);
  if (!violation) return error;
  const named = invalidArgument([violation]);
  error.metadata.forEach((value, key) => named.metadata.set(key, value));
  return named;
}

async function readBytes(req: NodeRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    throw new RestFailure(new ConnectError(`request body is larger than ${maxBytes} bytes`, Code.ResourceExhausted), 413);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      throw new RestFailure(new ConnectError(`request body is larger than ${maxBytes} bytes`, Code.ResourceExhausted), 413);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJsonBody(req: NodeRequest, maxBytes: number, maxDepth?: number): Promise<JsonValue | undefined> {
  if (!hasBody(req)) return undefined;
  const contentType = req.headers["content-type"] ?? "";
  if (!jsonContentType.test(contentType)) {
    throw new RestFailure(new ConnectError(`content type "${contentType.slice(0, 64)}" is not application/json`, Code.InvalidArgument), 415);
  }
  const bytes = await readBytes(req, maxBytes);
  if (maxDepth !== undefined) assertJsonDepth(bytes, maxDepth);
  const text = bytes.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new RestFailure(new ConnectError(`request body is not valid JSON: ${withoutSecrets((e as Error).message)}`, Code.InvalidArgument));
  }
}

/** The body of a google.api.HttpBody field: the raw bytes with their content type, whatever it is. */
async function readHttpBody(req: NodeRequest, maxBytes: number): Promise<JsonValue | undefined> {
  if (!hasBody(req)) return undefined;
  const bytes = await readBytes(req, maxBytes);
  return bytes.byteLength === 0 ? undefined : httpBodyJson(bytes, req.headers["content-type"] ?? "");
}

function forwardedHeaders(req: NodeRequest, contentType = "application/json"): Headers {
  const header = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || notForwarded.has(name) || value === undefined) continue;
    header.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  header.set("content-type", contentType);
  return header;
}

/** ETags of answers sent from their encoded bytes (encoded-json-answers.ts): the same bytes object until the answer changes. */
const etags = new WeakMap<Uint8Array, string>();

/** The ETag of a GET response: a digest of its bytes, so it changes exactly when they do. */
function bodyEtag(body: Uint8Array): string {
  let etag = etags.get(body);
  if (etag === undefined) {
    etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    etags.set(body, etag);
  }
  return etag;
}

/** A unary answer's body; a single chunk (an encoded answer) as it is, so that its ETag is found again. */
async function answerBytes(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/** The answer to a path nothing serves: 404 with a google.rpc.Status body. */
export function notFound(req: NodeRequest, res: NodeResponse): void {
  const path = (req.url ?? "/").split("?", 1)[0]!.slice(0, 200);
  sendError(res, new ConnectError(`no route for ${req.method} ${path}`, Code.NotFound));
}

/**
 * REST transcoding: routes from the google.api.http rules, each call turned
 * into a Connect JSON call of the same RPC and answered as REST (200 with the
 * message, or the google.rpc.Status of the error). Returns false when the
 * path is no REST route, so other handlers can answer it.
 */
export function restHandler(options: RestOptions): (req: NodeRequest, res: NodeResponse) => boolean {
  const router = new RestRouter(options.bindings);
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://rest");
    const route = router.match(req.method === "HEAD" ? "GET" : (req.method ?? "GET"), url.pathname);
    if (route.kind === "none") return false;
    if (route.kind === "method-not-allowed") {
      sendError(res, new ConnectError(`${req.method} is not allowed on ${url.pathname.slice(0, 200)}`, Code.Unimplemented), 405, {
        allow: route.allow.join(", "),
      });
      return true;
    }
    const handler = options.handlers.get(route.binding.method);
    if (!handler) return false;
    serve(req, res, route.binding, route.path, url, handler, options).catch((e: unknown) => {
      if (e instanceof RestFailure) return sendError(res, e.error, e.status);
      sendError(res, ConnectError.from(e));
    });
    return true;
  };
}

/** Whether the call's bearer token verifies; true when there is no verifier to ask. */
async function verifies(verifier: TokenVerifier | undefined, req: NodeRequest): Promise<boolean> {
  if (!verifier) return true;
  return bearerPrincipal(verifier, req.headers.authorization).then(
    () => true,
    () => false,
  );
}

/** The request message of a REST call: its body, path and query parameters, or InvalidArgument naming each bad one. */
async function transcodedRequest(
  req: NodeRequest,
  binding: HttpBinding,
  path: Parameters<typeof transcodeRequest>[1],
  url: URL,
  options: RestOptions,
): Promise<JsonObject> {
  let body: JsonValue | undefined;
  if (binding.body !== "") {
    body = httpBodyField(binding) ? await readHttpBody(req, options.maxBodyBytes) : await readJsonBody(req, options.maxBodyBytes, options.maxJsonDepth);
  }
  const transcoded = transcodeRequest(binding, path, url.searchParams, body);
  if (!transcoded.ok) throw new RestFailure(invalidArgument(transcoded.violations));
  return transcoded.request;
}

async function serve(
  req: NodeRequest,
  res: NodeResponse,
  binding: HttpBinding,
  path: Parameters<typeof transcodeRequest>[1],
  url: URL,
  handler: UniversalHandler,
  options: RestOptions,
): Promise<void> {
  const request = (await verifies(options.verifier, req)) ? await transcodedRequest(req, binding, path, url, options) : {};
  if (binding.method.methodKind === "server_streaming") return serveStream(req, res, binding, request, handler);
  const uRes = await handler({
    ...universalRequestFromNodeRequest(req, res, request, undefined),
    method: "POST",
    header: forwardedHeaders(req),
  });
  const bytes = await answerBytes(uRes.body);
  const headers: Record<string, string> = {};
  const requestId = uRes.header?.get("x-request-id");
  if (requestId) headers["x-request-id"] = requestId;
  if (uRes.status !== 200) {
    const error = errorFromJsonBytes(bytes, uRes.header, new ConnectError(`HTTP ${uRes.status}`, Code.Unknown));
    return sendError(res, namedDecodeError(error, binding, request), undefined, headers);
  }
  let out: Uint8Array = bytes;
  if (binding.responseBody !== "") {
    const field = binding.method.output.fields.find((f) => f.name === binding.responseBody);
    const message = JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, JsonValue>;
    out = Buffer.from(JSON.stringify(field ? (message[field.jsonName] ?? null) : null));
  }
  headers["content-type"] = "application/json; charset=utf-8";
  if (binding.httpMethod === "GET") {
    const etag = bodyEtag(out);
    headers.etag = etag;
    if (etagMatches(req.headers["if-none-match"], etag)) return send(res, 304, headers);
  }
  send(res, 200, headers, out);
}

function isHttpBodyStream(binding: HttpBinding): boolean {
  return binding.method.output.typeName === HttpBodySchema.typeName;
}

/** Writes a chunk, waiting while the client is slower than the stream; rejects when the client is gone. */
async function write(res: NodeResponse, chunk: Uint8Array): Promise<void> {
  const out = res as ServerResponse;
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (gone: boolean) => () => {
      out.off("drain", drained);
      out.off("close", closed);
      if (gone) reject(new ConnectError("the client closed the connection", Code.Canceled));
      else resolve();
    };
    const drained = settle(false);
    const closed = settle(true);
    out.on("drain", drained);
    out.on("close", closed);
  });
}

/**
 * Ends a response midway so that the client sees a truncated transfer, never
 * a complete one: HTTP/2 resets the stream; HTTP/1.1 sends what was written,
 * then closes the connection without the last chunk.
 */
function cutOff(res: NodeResponse): void {
  if ("stream" in res) res.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else if (res.socket) {
    const socket = res.socket;
    socket.end(() => socket.destroy());
  } else res.destroy();
}

/**
 * A server-streaming RPC over REST: the call runs as a Connect streaming call
 * (enveloped JSON) and each message is written as it arrives — the data of a
 * google.api.HttpBody stream as raw bytes, with the first message's content
 * type, any other stream as Server-Sent Events (sse-stream.ts). An error
 * before the first byte is the usual google.rpc.Status response; after it, an
 * HttpBody response is cut off, so the client sees a truncated transfer, not
 * a complete one, and an event stream ends with an `error` event.
 */
async function serveStream(req: NodeRequest, res: NodeResponse, binding: HttpBinding, request: JsonObject, handler: UniversalHandler): Promise<void> {
  if (!isHttpBodyStream(binding)) resumeFromLastEventId(req, binding, request);
  const header = forwardedHeaders(req, "application/connect+json");
  header.set("connect-protocol-version", "1");
  header.delete("connect-content-encoding");
  header.delete("connect-accept-encoding");
  const uRes = await handler({
    ...universalRequestFromNodeRequest(req, res, undefined, undefined),
    method: "POST",
    header,
    body: createAsyncIterable([encodeEnvelope(0, Buffer.from(JSON.stringify(request)))]),
  });
  const headers: Record<string, string> = {};
  const requestId = uRes.header?.get("x-request-id");
  if (requestId) headers["x-request-id"] = requestId;
  if (uRes.status !== 200 || !uRes.body) {
    const bytes = uRes.body ? await readAllBytes(uRes.body, Number.MAX_SAFE_INTEGER) : new Uint8Array();
    return sendError(res, errorFromJsonBytes(bytes, uRes.header, new ConnectError(`HTTP ${uRes.status}`, Code.Unknown)), undefined, headers);
  }
  const isHttpBody = isHttpBodyStream(binding);
  const start = (contentType: string) => {
    if (!res.headersSent) res.writeHead(200, { ...headers, "content-type": contentType });
  };
  try {
    let ended = false;
    for await (const envelope of pipe(uRes.body, transformSplitEnvelope(Number.MAX_SAFE_INTEGER))) {
      if ((envelope.flags & endStreamFlag) === endStreamFlag) {
        const end = endStreamFromJson(envelope.data);
        if (end.error) throw end.error;
        ended = true;
        break;
      }
      if (isHttpBody) {
        const message = fromJsonString(HttpBodySchema, Buffer.from(envelope.data).toString("utf8"));
        start(message.contentType || "application/octet-stream");
        if (message.data.byteLength > 0) await write(res, message.data);
      } else {
        if (!res.headersSent) res.writeHead(200, { ...headers, ...sseHeaders });
        await write(res, sseEvent(envelope.data));
      }
    }
    if (!ended) throw new ConnectError("the stream ended without its end-of-stream message", Code.Internal);
  } catch (e) {
    if (res.headersSent && !isHttpBody) return void res.end(sseError(restError(ConnectError.from(e)).body));
    if (res.headersSent) return cutOff(res);
    const error = ConnectError.from(e);
    const errorRequestId = error.metadata.get("x-request-id");
    if (errorRequestId && !headers["x-request-id"]) headers["x-request-id"] = errorRequestId;
    return sendError(res, namedDecodeError(error, binding, request), undefined, headers);
  }
  if (isHttpBody) start("application/octet-stream");
  else if (!res.headersSent) res.writeHead(200, { ...headers, ...sseHeaders });
  res.end();
}
