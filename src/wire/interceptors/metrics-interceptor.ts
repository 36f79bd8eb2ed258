import { ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { ServiceMetrics } from "../metrics.js";

/**
 * Counts every call: modelservice_requests_total{method,code}, the latency
 * histogram and the in-flight gauge. The method label comes from the
 * descriptor of a registered RPC ("modelservice.v1.ModelService/ListModels"),
 * never from the request, so no request value becomes a label. A streaming
 * response counts when its last message is sent (or when it fails or the
 * client goes away: "canceled").
 */
export function metricsInterceptor(metrics: ServiceMetrics): Interceptor {
  const methodMetrics = (method: string) => ({ duration: metrics.duration.labels({ method }), inFlight: metrics.inFlight.labels({ method }) });
  // Bound once per method: prom-client hashes the label set on every call that names it.
  const byMethod = new Map<string, ReturnType<typeof methodMetrics>>();
  const bound = (method: string) => {
    let children = byMethod.get(method);
    if (!children) byMethod.set(method, (children = methodMetrics(method)));
    return children;
  };
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const children = bound(method);
    const stopTimer = children.duration.startTimer();
    children.inFlight.inc();
    let finished = false;
    const finish = (code: string) => {
      if (finished) return;
      finished = true;
      stopTimer();
      children.inFlight.dec();
      metrics.requests.inc({ method, code });
    };
    const fail = (e: unknown) => finish(codeToString(ConnectError.from(e).code));
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
