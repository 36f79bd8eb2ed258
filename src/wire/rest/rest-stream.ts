import type { ServerResponse } from "node:http";
import { constants as http2Constants } from "node:http2";
import { fromJsonString, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAsyncIterable, encodeEnvelope, pipe, readAllBytes, transformSplitEnvelope, type UniversalHandler } from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { HttpBodySchema } from "../../../gen/google/api/httpbody_pb.js";
import type { HttpBinding } from "./http-rules.js";
import { forwardedHeaders, namedDecodeError, type NodeRequest, type NodeResponse } from "./rest-request.js";
import { sendError } from "./rest-response.js";
import { resumeFromLastEventId, sseError, sseEvent, sseHeaders } from "./sse-stream.js";
import { restError } from "./status-json.js";

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
export async function serveStream(req: NodeRequest, res: NodeResponse, binding: HttpBinding, request: JsonObject, handler: UniversalHandler): Promise<void> {
  if (!isHttpBodyStream(binding)) resumeFromLastEventId(req, binding, request);
  const header = new Headers(forwardedHeaders(req, "application/connect+json"));
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
