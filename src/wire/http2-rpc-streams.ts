import type { DescMethod } from "@bufbuild/protobuf";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { fetchHeaders } from "./request-headers.js";

/**
 * HTTP/2 RPC calls straight from the session's streams to connect's
 * universal handlers, past node's http2 compatibility layer: no
 * Http2ServerRequest / Http2ServerResponse (two streams' worth of state and
 * listeners per call), no detour through the HTTP/1.1 routes. connect still
 * does all of the protocol: framing, compression, deadlines, errors,
 * trailers. This module only moves headers and bytes, as connect-node's
 * adapter does for the compatibility objects (node-universal-handler.js).
 *
 * Taken: POST to an RPC path without an Origin header. Everything else (CORS,
 * Connect GET, the plain endpoints, REST) goes the usual way.
 */
export type Http2StreamRoute = (headers: IncomingHttpHeaders) => ((stream: ServerHttp2Stream) => void) | undefined;

/** connect-node's reading of a reset stream (connectErrorFromH2ResetCode), which its package does not export. */
export function resetError(rstCode: number): ConnectError | undefined {
  const code: Code | undefined = (
    {
      1: Code.Internal, // PROTOCOL_ERROR
      2: Code.Internal, // INTERNAL_ERROR
      3: Code.Internal, // FLOW_CONTROL_ERROR
      4: Code.Internal, // SETTINGS_TIMEOUT
      6: Code.Internal, // FRAME_SIZE_ERROR
      7: Code.Unavailable, // REFUSED_STREAM
      8: Code.Canceled, // CANCEL
      9: Code.Internal, // COMPRESSION_ERROR
      10: Code.Internal, // CONNECT_ERROR
      11: Code.ResourceExhausted, // ENHANCE_YOUR_CALM
      12: Code.PermissionDenied, // INADEQUATE_SECURITY
      13: Code.PermissionDenied, // HTTP_1_1_REQUIRED
    } as Record<number, Code>
  )[rstCode];
  return code === undefined ? undefined : new ConnectError(`http/2 stream closed with error code 0x${rstCode.toString(16)}`, code);
}

/** fetch Headers as node's outgoing HTTP/2 headers, added to `into`. */
export function nodeHeaders(header: Headers | undefined, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  header?.forEach((value, name) => {
    const had = into[name];
    into[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [String(had), value];
  });
  return into;
}

/** Writes a chunk, waiting while the client is slower than the answer; rejects when the stream fails or closes first. */
function write(stream: ServerHttp2Stream, chunk: Uint8Array): Promise<void> {
  if (stream.destroyed) return Promise.reject(new ConnectError("the client closed the stream", Code.Canceled));
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (error?: unknown) => {
      stream.off("drain", drained);
      stream.off("close", closed);
      stream.off("error", settle);
      if (error === undefined) resolve();
      else reject(error);
    };
    const drained = () => settle();
    const closed = () => settle(new ConnectError("the client closed the stream", Code.Canceled));
    stream.on("drain", drained);
    stream.on("close", closed);
    stream.on("error", settle);
  });
}

/** Writes connect's answer to the stream; `answered` runs once its whole body is written. */
async function respond(stream: ServerHttp2Stream, res: UniversalServerResponse, answered: () => void): Promise<void> {
  const it = res.body?.[Symbol.asyncIterator]();
  let wrote = false;
  try {
    // The first chunk before the headers, as connect-node does: an implementation may still set response headers until then.
    let chunk = it ? await it.next() : undefined;
    if (stream.destroyed) return;
    // connect fills the trailer while the body is read: it is sent once the body has been.
    const trailer = res.trailer;
    stream.respond(nodeHeaders(res.header, { ":status": res.status }), { waitForTrailers: trailer !== undefined });
    if (trailer) stream.once("wantTrailers", () => stream.sendTrailers(nodeHeaders(trailer, {})));
    for (; it && chunk && chunk.done !== true; chunk = await it.next()) {
      wrote = true;
      await write(stream, chunk.value);
      wrote = false;
    }
    answered();
    stream.end();
  } catch (e) {
    // A failed write is the handler's to know (a stream ends its work); anything else is a broken answer: reset.
    if (wrote) await it?.throw?.(e).catch(() => undefined);
    if (!stream.destroyed) stream.close(0x2);
  } finally {
    await it?.return?.().catch(() => undefined);
  }
}

/**
 * A direct path for some calls (grpc-direct.ts): given a stream's method and
 * headers, the server of that stream, or undefined to leave it to connect.
 * A stream it takes and then finds it cannot answer goes to connect after
 * all, with the request body as far as it read it and the rest of the stream.
 */
export type DirectStreams = (
  method: DescMethod,
  headers: IncomingHttpHeaders,
) => ((stream: ServerHttp2Stream, throughConnect: (body: AsyncIterable<Uint8Array>) => void) => void) | undefined;

/** The route of a stream to connect's universal handlers by request path (router.handlers), or to `direct`; undefined for streams it does not take. */
export function http2RpcStreams(handlers: ReadonlyMap<string, UniversalHandler>, direct?: DirectStreams): Http2StreamRoute {
  return (headers) => {
    if (headers[":method"] !== "POST" || headers.origin !== undefined) return undefined;
    const path = headers[":path"] ?? "";
    const query = path.indexOf("?");
    const handler = handlers.get(query < 0 ? path : path.slice(0, query));
    if (handler === undefined) return undefined;
    const throughConnect = (stream: ServerHttp2Stream, body: AsyncIterable<Uint8Array>) => {
      const abort = new AbortController();
      // The call learns that its client is gone while it runs; once answered there is nobody to tell (and no DOMException to make).
      let done = false;
      stream.once("close", () => {
        if (!done) abort.abort(resetError(stream.rstCode));
      });
      const req: UniversalServerRequest = {
        httpVersion: "2.0",
        method: "POST",
        url: `http://${headers[":authority"] ?? "localhost"}${path}`,
        header: fetchHeaders(headers),
        body,
        signal: abort.signal,
      };
      // connect answers every failure itself; a rejection here is a bug of ours, and the stream must still end.
      handler(req).then(
        (res) =>
          respond(stream, res, () => {
            done = true;
          }),
        () => {
          if (!stream.destroyed) stream.close(0x2);
        },
      );
    };
    const serveDirectly = direct?.(handler.method, headers);
    // As the compatibility layer's request: connect leaving the body unread (an early error) must not destroy the stream it answers on.
    if (serveDirectly === undefined) return (stream) => throughConnect(stream, stream.iterator({ destroyOnReturn: false }));
    return (stream) => serveDirectly(stream, (body) => throughConnect(stream, body));
  };
}
