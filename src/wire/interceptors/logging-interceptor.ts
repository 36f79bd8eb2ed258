import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { requestIdKey } from "../principal-context.js";
import { randomUUID } from "node:crypto";

export const requestIdHeader = "x-request-id";
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One log line per call (method, code, duration, request id) and the request
 * id echoed in the response. Logs neither headers nor messages, so a token or
 * a secret never reaches a log line.
 */
export function loggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get(requestIdHeader);
    // randomUUID draws from a cached entropy pool; a ULID costs a random call per character.
    const requestId = given && requestIdPattern.test(given) ? given : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    const started = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      res.header.set(requestIdHeader, requestId);
      logger.info({ method, code: "ok", durationMs: elapsed(started), requestId }, "call");
      return res;
    } catch (e) {
      const error = ConnectError.from(e);
      error.metadata.set(requestIdHeader, requestId);
      const level = error.code === Code.Internal || error.code === Code.Unknown ? "error" : "info";
      logger[level]({ method, code: codeToString(error.code), durationMs: elapsed(started), requestId, error: error.rawMessage }, "call");
      throw error;
    }
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
