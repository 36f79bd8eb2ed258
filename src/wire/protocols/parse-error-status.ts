import { Code, ConnectError } from "@connectrpc/connect";
import {
  createAsyncIterable,
  encodeEnvelope,
  readAllBytes,
  type UniversalHandler,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  endStreamFlag,
  endStreamFromJson,
  endStreamToJson,
  errorFromJsonBytes,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { invalidArgument } from "../../domain/validation/field-violations.js";
import { decompress, isJsonDecodeError, recordJsonRequest } from "./json-request-errors.js";
import { withoutSecrets } from "./secret-redaction.js";

/** The error a client should see instead of `error`; undefined to leave it as it is. */
type ErrorFix = (error: ConnectError | undefined) => ConnectError | undefined;

/**
 * connect-node reports a request body that is not valid protobuf binary as
 * Internal ("parse binary: premature EOF"), and so it does a compressed body
 * that fails to decompress for a reason zlib does not call corrupt input
 * ("decompression failed": a truncated gzip stream, bad brotli), and a Connect
 * GET whose message is not base64 ("internal error"). A JSON request it cannot
 * decode is InvalidArgument already, but named after a type rather than the
 * field, and quoting the value. All of it is the client's bad input, so this
 * wrapper turns exactly those errors into InvalidArgument naming what is
 * wrong, in each protocol's own error format (the Connect streaming
 * end-stream message included). It also takes out of every error message the
 * values of credentials fields that the JSON decoder quotes (withoutSecrets).
 * Every other response is left untouched.
 */
export function invalidArgumentForParseErrors(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const badQuery = req.method === "GET" ? connectGetProblem(req.url) : undefined;
    if (badQuery) return connectUnaryError(badQuery);
    const json = recordJsonRequest(req);
    const res = await handler(json.request);
    const fix: ErrorFix = (error) => {
      if (error && isJsonDecodeError(error)) return json.named(error, handler.method.input);
      return error && fixedCallError(error);
    };
    const contentType = res.header?.get("content-type") ?? "";
    if (contentType.startsWith("application/grpc-web")) return { ...res, body: res.body && grpcWebBody(res.body, fix) };
    if (contentType.startsWith("application/grpc")) return grpcResponse(res, fix);
    if (contentType.startsWith("application/connect+")) return { ...res, body: res.body && connectStreamBody(res.body, fix) };
    if (res.status !== 200 && contentType.startsWith("application/json")) return connectUnaryResponse(res, fix);
    return res;
  };
  return Object.assign(wrapped, handler);
}

/**
 * The error a client should see instead of one raised while a call was
 * decoded or ran, other than a JSON request the decoder refused: a binary
 * parse error as InvalidArgument, credentials values taken out of the
 * message. Undefined when it is right as it is.
 */
export function fixedCallError(error: ConnectError): ConnectError | undefined {
  if (isBinaryParseError(error)) return new ConnectError(error.rawMessage, Code.InvalidArgument, error.metadata);
  return redacted(error);
}

function isBinaryParseError(error: ConnectError | undefined): error is ConnectError {
  return error?.code === Code.Internal && (error.rawMessage.startsWith("parse binary:") || error.rawMessage === "decompression failed");
}

/** The error with the values of credentials fields taken out of its message (withoutSecrets); undefined when it quotes none. */
function redacted(error: ConnectError): ConnectError | undefined {
  const message = withoutSecrets(error.rawMessage);
  return message === error.rawMessage ? undefined : new ConnectError(message, error.code, error.metadata);
}

/** What is wrong with a Connect GET's query that connect-node would answer as Internal: a message that is not base64. */
function connectGetProblem(url: string): ConnectError | undefined {
  const query = new URL(url, "http://get").searchParams;
  if (query.get("base64") !== "1") return undefined;
  try {
    base64Decode(query.get("message") ?? "");
    return undefined;
  } catch {
    return invalidArgument([{ field: "message", description: "is not base64 (the query says base64=1)" }]);
  }
}

function connectUnaryError(error: ConnectError): UniversalServerResponse {
  const body = errorToJsonBytes(error, {});
  const header = new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) });
  return { status: codeToHttpStatus(error.code), header, body: createAsyncIterable([body]) };
}

async function connectUnaryResponse(res: UniversalServerResponse, fix: ErrorFix): Promise<UniversalServerResponse> {
  const bytes = res.body ? await readAllBytes(res.body, Number.MAX_SAFE_INTEGER) : new Uint8Array();
  const unchanged = { ...res, body: createAsyncIterable([bytes]) };
  // connect compresses an error of 1 KiB or more when the client accepts it (fetch always does).
  const plain = decompress(res.header?.get("content-encoding") ?? null, bytes);
  if (!plain) return unchanged;
  let fixed;
  try {
    fixed = fix(errorFromJsonBytes(plain, undefined, new ConnectError("", Code.Unknown)));
  } catch {
    return unchanged;
  }
  if (!fixed) return unchanged;
  const body = errorToJsonBytes(fixed, {});
  const header = new Headers(res.header);
  header.delete("content-encoding");
  header.set("content-length", String(body.byteLength));
  return { ...res, status: codeToHttpStatus(fixed.code), header, body: createAsyncIterable([body]) };
}

/** Fixes the status of a gRPC trailer in place; false when it needs no fix. */
function fixGrpcTrailer(trailer: Headers, fix: ErrorFix): boolean {
  const fixed = fix(findTrailerError(trailer));
  if (!fixed) return false;
  trailer.delete("grpc-status-details-bin");
  // Without metadata: the error found in the trailer carries the trailer itself, which would repeat every value.
  const status = new ConnectError(fixed.rawMessage, fixed.code);
  status.details = fixed.details;
  setTrailerStatus(trailer, status);
  return true;
}

/** A gRPC trailer of a call run without connect's handler (grpc-direct.ts), fixed in place as this wrapper fixes connect's. */
export function fixGrpcCallTrailer(trailer: Headers): void {
  fixGrpcTrailer(trailer, (error) => error && fixedCallError(error));
}

function grpcResponse(res: UniversalServerResponse, fix: ErrorFix): UniversalServerResponse {
  const trailer = res.trailer;
  if (!trailer) return res;
  // The trailer is final either before the response is returned or once the body ends.
  fixGrpcTrailer(trailer, fix);
  const body = res.body;
  if (!body) return res;
  return {
    ...res,
    body: (async function* () {
      yield* body;
      fixGrpcTrailer(trailer, fix);
    })(),
  };
}

function isWholeFrame(chunk: Uint8Array, flag: number): boolean {
  return chunk.byteLength >= 5 && chunk[0] === flag && new DataView(chunk.buffer, chunk.byteOffset).getUint32(1) === chunk.byteLength - 5;
}

/** A Connect streaming response: the error of its end-stream message. */
async function* connectStreamBody(body: AsyncIterable<Uint8Array>, fix: ErrorFix): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    if (!isWholeFrame(chunk, endStreamFlag)) {
      yield chunk;
      continue;
    }
    const fixed = fix(endStreamFromJson(chunk.subarray(5)).error);
    if (!fixed) {
      yield chunk;
      continue;
    }
    // The parsed error carries the end-stream metadata already; passing it twice would repeat every value.
    const json = endStreamToJson(new Headers(), fixed, undefined);
    yield encodeEnvelope(endStreamFlag, new TextEncoder().encode(JSON.stringify(json)));
  }
}

async function* grpcWebBody(body: AsyncIterable<Uint8Array>, fix: ErrorFix): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    const isWholeTrailerFrame =
      chunk.byteLength >= 5 &&
      chunk[0] === trailerFlag &&
      new DataView(chunk.buffer, chunk.byteOffset).getUint32(1) === chunk.byteLength - 5;
    if (!isWholeTrailerFrame) {
      yield chunk;
      continue;
    }
    const trailer = trailerParse(chunk.subarray(5));
    if (!fixGrpcTrailer(trailer, fix)) {
      yield chunk;
      continue;
    }
    yield encodeEnvelope(trailerFlag, trailerSerialize(trailer));
  }
}
