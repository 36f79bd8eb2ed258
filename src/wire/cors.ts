import { cors as connectCors } from "@connectrpc/connect";
import cors from "cors";
import type { IncomingMessage, ServerResponse } from "node:http";

/** The REST surface's verbs, beyond the ones connect lists. */
const restMethods = ["PUT", "PATCH", "DELETE"];

export type CorsMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * CORS for browser Connect clients and the REST surface, from connect's own
 * header lists plus Authorization (browsers send their token there). Origins
 * are "*" (no credentials) or an allow-list.
 */
export function corsMiddleware(origins: "*" | string[]): CorsMiddleware {
  const middleware = cors({
    origin: origins === "*" ? "*" : origins,
    methods: [...connectCors.allowedMethods, ...restMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization", "X-Request-Id"],
    exposedHeaders: [...connectCors.exposedHeaders, "X-Request-Id", "ETag", "X-Should-Retry", "Retry-After", "Retry-After-Ms"],
    maxAge: 7200,
  });
  return (req, res, next) => {
    // Only browsers read CORS headers, and a browser always sends Origin when it does:
    // the services and CLIs on the hot path skip the work. Vary still tells caches the answer depends on it.
    if (req.headers.origin === undefined) {
      if (origins !== "*") res.setHeader("vary", "Origin");
      return next();
    }
    middleware(req, res, next);
  };
}
