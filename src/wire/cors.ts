import { cors as connectCors } from "@connectrpc/connect";
import cors from "cors";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The REST surface's verbs, beyond the ones connect lists. */
const restMethods = ["PUT", "PATCH", "DELETE"];

/**
 * Request headers a browser may send: connect's own, the token (Authorization,
 * or X-Api-Key as the seeds' REST SDKs offer it), the caller's request id,
 * Idempotency-Key (Stainless SDKs send it on retried writes) and X-MCP.
 */
const allowedHeaders = new Set(
  [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "Idempotency-Key", "X-Api-Key", "X-MCP", "Accept"].map((h) => h.toLowerCase()),
);

/**
 * Every Stainless-generated SDK (the Cadenya SDKs among them) describes itself
 * in X-Stainless-* headers (Lang, Package-Version, OS, Arch, Runtime,
 * Runtime-Version, Retry-Count, Timeout, and more in newer versions), so the
 * whole family is allowed rather than a list that the next SDK release outgrows.
 */
const allowedPrefix = "x-stainless-";

const isAllowedHeader = (name: string) => allowedHeaders.has(name) || name.startsWith(allowedPrefix);

/** The headers of a preflight's Access-Control-Request-Headers that the service allows, as the browser spelled them. */
function allowedOf(requested: string | undefined): string[] {
  const names = (requested ?? "").split(",").map((h) => h.trim().toLowerCase());
  return [...new Set([...allowedHeaders, ...names.filter((h) => h !== "" && isAllowedHeader(h))])];
}

export type CorsMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * CORS for browser Connect clients, the REST surface and the REST SDKs: the
 * allowed request headers above, connect's exposed ones plus the REST
 * surface's. Origins are "*" (no credentials) or an allow-list.
 */
export function corsMiddleware(origins: "*" | string[]): CorsMiddleware {
  const common = {
    origin: origins === "*" ? "*" : origins,
    methods: [...connectCors.allowedMethods, ...restMethods],
    exposedHeaders: [...connectCors.exposedHeaders, "X-Request-Id", "ETag", "X-Should-Retry", "Retry-After", "Retry-After-Ms"],
    maxAge: 7200,
  };
  const middleware = cors((req, callback) =>
    callback(null, { ...common, allowedHeaders: allowedOf(req.headers["access-control-request-headers"]) }),
  );
  return (req, res, next) => {
    // Only browsers read CORS headers, and a browser always sends Origin when it does:
    // the services and CLIs on the hot path skip the work. Vary still tells caches the answer depends on it.
    if (req.headers.origin === undefined) {
      if (origins !== "*") res.setHeader("vary", "Origin");
      return next();
    }
    // The allowed headers answered depend on the ones requested.
    if (req.method === "OPTIONS") res.appendHeader("vary", "Access-Control-Request-Headers");
    middleware(req, res, next);
  };
}
