import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  constants as http2Constants,
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import type { Http2StreamRoute } from "./http2-rpc-streams.js";

export type RequestHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface ServerOptions {
  host: string;
  port: number;
}

/** Timeouts and limits against slow or greedy clients (Config: headersTimeoutMs …). */
export interface ServerLimits {
  /** Time to send the request headers (HTTP/1.1), and to send the first bytes of a connection. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time to send the whole request (HTTP/1.1); 0 = none. Default 60 s. */
  requestTimeoutMs?: number;
  /** Idle time of an HTTP/1.1 keep-alive connection. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. Default 100. */
  maxConcurrentStreams?: number;
  /** An HTTP/2 connection without open streams for this long is closed with GOAWAY; 0 = never. Default 5 min. */
  idleTimeoutMs?: number;
  /** Open connections at most; more are closed as they arrive. Default 1024. */
  maxConnections?: number;
  /** Open connections of one client address at most. Default 128. */
  maxConnectionsPerClient?: number;
  /**
   * HTTP/2: request bytes one connection may have sent that its calls have not
   * read yet, across all its streams. Each stream's flow-control window is
   * this divided by maxConcurrentStreams, so a client can send no more before
   * the service reads. Default 8 MiB.
   */
  maxConnectionBufferBytes?: number;
  /**
   * HTTP/2 streams open at once over all connections; more are refused with
   * REFUSED_STREAM (safe to retry). Every stream costs heap however little it
   * sends, so this, not the per-connection caps, bounds a flood of stalled
   * streams. Default 4096.
   */
  maxOpenStreams?: number;
}

/** What the server refused or cut off, for metrics. */
export interface ServerObserver {
  connectionOpened(): void;
  connectionClosed(): void;
  /** A connection over maxConnections or maxConnectionsPerClient, closed on arrival. */
  connectionRejected(): void;
  /** An HTTP/2 stream whose request was not complete within the request timeout, reset. */
  streamTimedOut(): void;
  /** An HTTP/2 stream over maxOpenStreams, refused. */
  streamRefused(): void;
}

/**
 * One port for HTTP/1.1 and cleartext HTTP/2 (prior knowledge): a TCP server
 * reads the first bytes of each connection and hands the socket to the http2
 * server when they are the HTTP/2 preface, to the http server otherwise.
 */
export class OnePortServer {
  private readonly http1;
  private readonly http2;
  private readonly tcp;
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private openStreams = 0;
  private drained?: () => void;

  private readonly headersTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly maxConnectionsPerClient: number;
  /** Open connections by client address. */
  private readonly clients = new Map<string, number>();

  private readonly maxOpenStreams: number;

  /** rpcStreams: HTTP/2 streams it routes are served from the session, past node's compatibility layer and `handler` (http2-rpc-streams.ts). */
  constructor(
    handler: RequestHandler,
    limits: ServerLimits = {},
    private readonly observer?: ServerObserver,
    rpcStreams?: Http2StreamRoute,
  ) {
    const headersTimeout = (this.headersTimeoutMs = limits.headersTimeoutMs ?? 10_000);
    const requestTimeout = limits.requestTimeoutMs ?? 60_000;
    const idleTimeout = limits.idleTimeoutMs ?? 300_000;
    this.maxConnections = limits.maxConnections ?? 1024;
    this.maxConnectionsPerClient = limits.maxConnectionsPerClient ?? 128;
    this.maxOpenStreams = limits.maxOpenStreams ?? 4096;
    const counted: RequestHandler = (req, res) => {
      if ("stream" in req && !this.admitStream(req.stream)) return;
      this.inFlight++;
      res.once("close", () => this.callEnded());
      handler(req, res);
    };
    this.http1 = createHttpServer(
      {
        headersTimeout,
        requestTimeout,
        keepAliveTimeout: limits.keepAliveTimeoutMs ?? 5_000,
        // Node checks the headers and request timeouts at this interval (default 30 s).
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
      },
      counted,
    );
    // The http server is handed sockets and never listens itself, and node
    // starts tracking connections (and so the timeouts above) on "listening".
    this.http1.emit("listening");
    const maxConcurrentStreams = limits.maxConcurrentStreams ?? 100;
    const initialWindowSize = Math.floor((limits.maxConnectionBufferBytes ?? 8 * 1024 * 1024) / maxConcurrentStreams);
    this.http2 = createHttp2Server({ settings: { maxConcurrentStreams, initialWindowSize } }, counted);
    this.http2.on("session", (session) => {
      if (rpcStreams) this.routeStreams(session, rpcStreams);
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      if (requestTimeout > 0) session.on("stream", (stream: ServerHttp2Stream) => this.timeRequest(stream, requestTimeout));
      if (idleTimeout > 0) {
        let open = 0;
        session.on("stream", (stream) => {
          open++;
          stream.once("close", () => open--);
        });
        // Fires after idleTimeout without any frame; a session with open streams (a quiet watch) stays.
        session.setTimeout(idleTimeout, () => {
          if (open === 0 && !session.closed) session.close();
        });
      }
    });
    // Responses leave in several writes (headers, body, trailers); without
    // noDelay, Nagle's algorithm holds the later ones for a delayed ACK (~40 ms).
    this.tcp = createNetServer({ noDelay: true, keepAlive: true }, (socket) => this.route(socket));
  }

  /** Counts an HTTP/2 stream until it closes; refuses it (REFUSED_STREAM) over maxOpenStreams. */
  private admitStream(stream: ServerHttp2Stream): boolean {
    if (this.openStreams >= this.maxOpenStreams) {
      this.observer?.streamRefused();
      stream.close(http2Constants.NGHTTP2_REFUSED_STREAM);
      return false;
    }
    this.openStreams++;
    stream.once("close", () => this.openStreams--);
    return true;
  }

  private callEnded(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.drained?.();
  }

  /**
   * Streams `route` takes are served from the session; the others reach
   * node's own listener (the compatibility layer, then `handler`) as before.
   * Runs first on a new session, when node's listener is the only one.
   */
  private routeStreams(session: Http2Session, route: Http2StreamRoute): void {
    const nodeListeners = session.listeners("stream") as Array<(...args: unknown[]) => void>;
    session.removeAllListeners("stream");
    session.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
      const serve = route(headers);
      if (serve === undefined) {
        for (const listener of nodeListeners) listener.call(session, stream, headers, ...rest);
        return;
      }
      // The compatibility layer listens for a stream's errors; without it, a reset stream's error event would end the process. Its close tells the call.
      stream.on("error", () => undefined);
      if (!this.admitStream(stream)) return;
      this.inFlight++;
      stream.once("close", () => this.callEnded());
      serve(stream);
    });
  }

  /**
   * HTTP/2's counterpart of HTTP/1.1's request timeout: a stream whose
   * request has not fully arrived in time (a body that stalls) is reset. A
   * stream whose request is complete (a watch, an export) is never timed out,
   * however long its response takes.
   */
  private timeRequest(stream: ServerHttp2Stream, timeoutMs: number): void {
    const timer = setTimeout(() => {
      if (stream.closed || stream.state.remoteClose) return;
      this.observer?.streamTimedOut();
      stream.close(http2Constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    timer.unref();
    stream.once("close", () => clearTimeout(timer));
  }

  /** Closes a connection over the caps on arrival; otherwise counts it until it closes. */
  private admit(socket: Socket): boolean {
    const client = socket.remoteAddress ?? "";
    const ofClient = this.clients.get(client) ?? 0;
    if (this.sockets.size >= this.maxConnections || ofClient >= this.maxConnectionsPerClient) {
      this.observer?.connectionRejected();
      socket.destroy();
      return false;
    }
    this.clients.set(client, ofClient + 1);
    this.sockets.add(socket);
    this.observer?.connectionOpened();
    socket.once("close", () => {
      this.sockets.delete(socket);
      const left = (this.clients.get(client) ?? 1) - 1;
      if (left === 0) this.clients.delete(client);
      else this.clients.set(client, left);
      this.observer?.connectionClosed();
    });
    return true;
  }

  private route(socket: Socket): void {
    if (!this.admit(socket)) return;
    socket.on("error", () => socket.destroy());
    // A connection that does not even send enough bytes to pick a protocol.
    const silent = () => socket.destroy();
    socket.setTimeout(this.headersTimeoutMs);
    socket.on("timeout", silent);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, http2Preface.length);
      const isPrefix = head.subarray(0, n).equals(http2Preface.subarray(0, n));
      // Wait for more bytes while they could still become the preface.
      if (isPrefix && head.length < http2Preface.length) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.off("timeout", silent);
      socket.pause();
      socket.unshift(head);
      if (isPrefix) {
        // The http2 session reads what is already buffered on its next tick;
        // resuming here would drop those bytes.
        this.http2.emit("connection", socket);
      } else {
        this.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  async listen(options: ServerOptions): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen(options.port, options.host, () => {
        this.tcp.off("error", reject);
        resolve();
      });
    });
    return this.tcp.address() as AddressInfo;
  }

  /** Stops accepting, lets in-flight calls finish within graceMs, then closes every connection. */
  async close(graceMs: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    this.http1.closeIdleConnections();
    for (const session of this.sessions) session.close();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.http1.closeAllConnections();
    this.http1.close();
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    await stopped;
  }
}
