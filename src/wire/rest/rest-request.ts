import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { invalidArgument } from "../../domain/validation/field-violations.js";
import { assertJsonDepth } from "../protocols/json-depth.js";
import { withoutSecrets } from "../protocols/secret-redaction.js";
import type { HttpBinding } from "./http-rules.js";
import { httpBodyJson, jsonFieldProblem } from "./request-transcoder.js";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** A REST request refused before its call runs, with the HTTP status to answer when it is not the code's own. */
export class RestFailure extends Error {
  constructor(
    readonly error: ConnectError,
    readonly status?: number,
  ) {
    super(error.message);
  }
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

/** The request headers a REST call carries to its RPC (auth, request id, deadline, trace context …), with the content type given. */
export function forwardedHeaders(req: NodeRequest, contentType = "application/json"): Record<string, string> {
  const header: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || notForwarded.has(name) || value === undefined) continue;
    header[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  header["content-type"] = contentType;
  return header;
}

function hasBody(req: NodeRequest): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return length !== "0";
  // HTTP/2 frames the body itself: no transfer-encoding, and content-length is optional.
  return req.httpVersionMajor === 2 || req.headers["transfer-encoding"] !== undefined;
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

export async function readJsonBody(req: NodeRequest, maxBytes: number, maxDepth?: number): Promise<JsonValue | undefined> {
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
export async function readHttpBody(req: NodeRequest, maxBytes: number): Promise<JsonValue | undefined> {
  if (!hasBody(req)) return undefined;
  const bytes = await readBytes(req, maxBytes);
  return bytes.byteLength === 0 ? undefined : httpBodyJson(bytes, req.headers["content-type"] ?? "");
}

/** A request the JSON decoder refused, as InvalidArgument whose field violation names the field. */
export function namedDecodeError(error: ConnectError, binding: HttpBinding, request: JsonValue): ConnectError {
  if (error.code !== Code.InvalidArgument || error.details.length > 0) return error;
  const violation = jsonFieldProblem(binding.method.input, request);
  if (!violation) return error;
  const named = invalidArgument([violation]);
  error.metadata.forEach((value, key) => named.metadata.set(key, value));
  return named;
}
