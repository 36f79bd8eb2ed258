import type { IncomingMessage, ServerResponse } from "node:http";
import type { CorsMiddleware } from "./cors.js";
import type { RequestHandler } from "./server.js";

export interface HttpHandlerParts {
  cors: CorsMiddleware;
  /** True while the service takes traffic (false during shutdown). */
  ready: () => boolean;
  /** connect-node's adapter: gRPC, gRPC-Web and Connect. */
  rpc: RequestHandler;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The node request handler of the one port: CORS, plain health endpoints, then RPC. */
export function httpHandler(parts: HttpHandlerParts): RequestHandler {
  return (req, res) => {
    // connect's adapter and cors take both http1 and http2 compat objects; cors is typed for http1 only.
    parts.cors(req as IncomingMessage, res as ServerResponse, () => {
      const path = (req.url ?? "/").split("?", 1)[0];
      if (req.method === "GET" && path === "/healthz") return sendJson(res as ServerResponse, 200, { status: "ok" });
      if (req.method === "GET" && path === "/readyz") {
        const ready = parts.ready();
        return sendJson(res as ServerResponse, ready ? 200 : 503, { status: ready ? "ready" : "shutting down" });
      }
      parts.rpc(req, res);
    });
  };
}
