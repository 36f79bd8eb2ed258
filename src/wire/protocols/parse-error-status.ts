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
import { withoutSecrets } from "./secret-redaction.js";

/**
 * connect-node reports a request body that is not valid protobuf binary as
 * Internal ("parse binary: premature EOF"), and so it does a compressed body
 * that fails to decompress for a reason zlib does not call corrupt input
 * ("decompression failed": a truncated gzip stream, bad brotli). It is the
 * client's bad input, so this wrapper turns exactly those errors into
 * InvalidArgument, in each protocol's own error format (the Connect streaming
 * end-stream message included). It also takes out of every error message the
 * values of credentials fields that the JSON decoder quotes (withoutSecrets).
 * Every other response is left untouched.
 */
export function invalidArgumentForParseErrors(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const contentType = res.header?.get("content-type") ?? "";
    if (contentType.startsWith("application/grpc-web")) return { ...res, body: res.body && grpcWebBody(res.body) };
    if (contentType.startsWith("application/grpc")) return grpcResponse(res);
    if (contentType.startsWith("application/connect+")) return { ...res, body: res.body && connectStreamBody(res.body) };
    if (res.status !== 200 && contentType.startsWith("application/json")) return connectUnaryResponse(res);
    return res;
  };
  return Object.assign(wrapped, handler);
}

function isBinaryParseError(error: ConnectError): boolean {
  return error.code === Code.Internal && (error.rawMessage.startsWith("parse binary:") || error.rawMessage === "decompression failed");
}

/** The error the client gets instead, or undefined when it gets this one. */
function replacement(error: ConnectError | undefined): ConnectError | undefined {
  if (!error) return undefined;
  if (isBinaryParseError(error)) return new ConnectError(error.rawMessage, Code.InvalidArgument, error.metadata);
  const message = withoutSecrets(error.rawMessage);
  return message === error.rawMessage ? undefined : new ConnectError(message, error.code, error.metadata);
}

async function connectUnaryResponse(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const bytes = res.body ? await readAllBytes(res.body, Number.MAX_SAFE_INTEGER) : new Uint8Array();
  const fixed = replacement(errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Unknown)));
  if (!fixed) return { ...res, body: createAsyncIterable([bytes]) };
  const body = errorToJsonBytes(fixed, {});
  const header = new Headers(res.header);
  header.set("content-length", String(body.byteLength));
  return { ...res, status: codeToHttpStatus(fixed.code), header, body: createAsyncIterable([body]) };
}

function fixGrpcTrailer(trailer: Headers): void {
  const fixed = replacement(findTrailerError(trailer));
  if (!fixed) return;
  trailer.delete("grpc-status-details-bin");
  setTrailerStatus(trailer, fixed);
}

function grpcResponse(res: UniversalServerResponse): UniversalServerResponse {
  const trailer = res.trailer;
  if (!trailer) return res;
  // The trailer is final either before the response is returned or once the body ends.
  fixGrpcTrailer(trailer);
  const body = res.body;
  if (!body) return res;
  return {
    ...res,
    body: (async function* () {
      yield* body;
      fixGrpcTrailer(trailer);
    })(),
  };
}

function isWholeFrame(chunk: Uint8Array, flag: number): boolean {
  return chunk.byteLength >= 5 && chunk[0] === flag && new DataView(chunk.buffer, chunk.byteOffset).getUint32(1) === chunk.byteLength - 5;
}

/** A Connect streaming response: the error of its end-stream message. */
async function* connectStreamBody(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    if (!isWholeFrame(chunk, endStreamFlag)) {
      yield chunk;
      continue;
    }
    const end = endStreamFromJson(chunk.subarray(5));
    const fixed = replacement(end.error);
    if (!fixed) {
      yield chunk;
      continue;
    }
    // The parsed error carries the end-stream metadata already; passing it twice would repeat every value.
    const json = endStreamToJson(new Headers(), fixed, undefined);
    yield encodeEnvelope(endStreamFlag, new TextEncoder().encode(JSON.stringify(json)));
  }
}

async function* grpcWebBody(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
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
    if (!replacement(findTrailerError(trailer))) {
      yield chunk;
      continue;
    }
    fixGrpcTrailer(trailer);
    yield encodeEnvelope(trailerFlag, trailerSerialize(trailer));
  }
}
