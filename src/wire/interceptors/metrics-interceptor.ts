import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { ServiceMetrics } from "../metrics.js";

/** "ResourceExhausted" → "resource_exhausted", as the logging interceptor and REST errors spell codes. */
export function codeLabel(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c : "_" + c)).toLowerCase();
}

/**
 * Counts every call: modelservice_requests_total{method,code}, the latency
 * histogram and the in-flight gauge. The method label comes from the
 * descriptor of a registered RPC ("modelservice.v1.ModelService/ListModels"),
 * never from the request, so no request value becomes a label. A streaming
 * response counts when its last message is sent (or when it fails or the
 * client goes away: "canceled").
 */
export function metricsInterceptor(metrics: ServiceMetrics): Interceptor {
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const stopTimer = metrics.duration.startTimer({ method });
    metrics.inFlight.inc({ method });
    let finished = false;
    const finish = (code: string) => {
      if (finished) return;
      finished = true;
      stopTimer();
      metrics.inFlight.dec({ method });
      metrics.requests.inc({ method, code });
    };
    const fail = (e: unknown) => finish(codeLabel(ConnectError.from(e).code));
    try {
      const res = await next(req);
      if (!res.stream) {
        finish("ok");
        return res;
      }
      return { ...res, message: observed(res, finish, fail) } satisfies StreamResponse;
    } catch (e) {
      fail(e);
      throw e;
    }
  };
}

async function* observed<O>(
  res: { message: AsyncIterable<O> },
  finish: (code: string) => void,
  fail: (e: unknown) => void,
): AsyncIterable<O> {
  try {
    yield* res.message;
    finish("ok");
  } catch (e) {
    fail(e);
    throw e;
  } finally {
    // Left early: the consumer stopped reading (the client went away).
    finish("canceled");
  }
}
