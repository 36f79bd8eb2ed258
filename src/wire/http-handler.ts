import type { IncomingMessage, ServerResponse } from "node:http";
import type { CorsMiddleware } from "./cors.js";
import type { RequestHandler } from "./server.js";

export interface HttpHandlerParts {
  cors: CorsMiddleware;
  /** True while the service takes traffic (false during shutdown). */
  ready: () => boolean;
  /** GET /metrics: the Prometheus text of the service's metrics registry. */
  metrics?: (res: Parameters<RequestHandler>[1]) => void;
  /** The OpenAPI document, serialized once at start. */
  openApi: string;
  /** The API reference page and its assets; false for other paths. */
  docs: (path: string, res: ServerResponse) => boolean;
  /** The web console's files under /console; false for other paths. */
  console: (path: string, res: ServerResponse) => boolean;
  /** GET /console/dev-token, in dev mode only: without it the path is an unknown route (404). */
  devToken?: (req: Parameters<RequestHandler>[0], res: ServerResponse) => void;
  /** REST transcoding; false when the path is no REST route. */
  rest: (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => boolean;
  /** The paths connect serves ("/package.Service/Method"): they skip every other route. */
  rpcPaths: ReadonlySet<string>;
  /** Connect unary JSON calls run without connect's universal request (connect-json-direct.ts); false for calls it leaves to `rpc`. */
  connectJson?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
  /** connect-node's adapter: gRPC, gRPC-Web and Connect. */
  rpc: RequestHandler;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The node request handler of the one port: CORS, plain endpoints, REST, then RPC. */
export function httpHandler(parts: HttpHandlerParts): RequestHandler {
  return (req, res) => {
    // connect's adapter and cors take both http1 and http2 compat objects; cors is typed for http1 only.
    parts.cors(req as IncomingMessage, res as ServerResponse, () => {
      const path = (req.url ?? "/").split("?", 1)[0]!;
      // An answer to a token is that token's alone, and Connect GET and REST URLs are the same for every tenant: no cache may keep it.
      if ((req.method === "GET" || req.method === "HEAD") && req.headers.authorization !== undefined) {
        res.setHeader("cache-control", "private, no-store");
      }
      // The hot path: calls go straight to connect, past the plain endpoints and the REST routes.
      if (parts.rpcPaths.has(path)) {
        if (parts.connectJson?.(req as IncomingMessage, res as ServerResponse, path)) return;
        return parts.rpc(req, res);
      }
      // HEAD is answered as GET; node sends the headers without the body.
      const isRead = req.method === "GET" || req.method === "HEAD";
      if (isRead && path === "/healthz") return sendJson(res as ServerResponse, 200, { status: "ok" });
      if (isRead && path === "/readyz") {
        const ready = parts.ready();
        return sendJson(res as ServerResponse, ready ? 200 : 503, { status: ready ? "ready" : "shutting down" });
      }
      if (isRead && path === "/metrics" && parts.metrics) return parts.metrics(res);
      if (isRead && path === "/openapi.json") return sendJson(res as ServerResponse, 200, parts.openApi);
      if (isRead && parts.docs(path, res as ServerResponse)) return;
      if (isRead && path === "/console/dev-token") {
        if (parts.devToken) return parts.devToken(req, res as ServerResponse);
      } else if (isRead && parts.console(path, res as ServerResponse)) return;
      if (parts.rest(req, res)) return;
      parts.rpc(req, res);
    });
  };
}
