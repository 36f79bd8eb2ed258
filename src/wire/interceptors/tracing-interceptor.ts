import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryRequest, type StreamRequest } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type Tracer } from "@opentelemetry/api";

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Codes that are the server's fault: they mark the span as failed (OpenTelemetry's RPC conventions). */
const serverFaults = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/**
 * A server span for every call, whatever its protocol (REST calls run the
 * same handlers with the same headers): a child of the caller's W3C
 * `traceparent` when it sent one. The call runs inside the span, so store
 * spans and log lines join the trace; a streamed response is read inside it
 * too, and the span ends with its last message.
 */
export function tracingInterceptor(tracer: Tracer): Interceptor {
  return (next) => (req) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.header, headerGetter);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
      },
      parent,
    );
    return within(trace.setSpan(parent, span), next, req, span);
  };
}

type Next = Parameters<Interceptor>[0];

async function within(ctx: Context, next: Next, req: UnaryRequest | StreamRequest, span: Span) {
  let ended = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    if (error !== undefined) {
      const { code, rawMessage } = ConnectError.from(error);
      span.setAttribute("rpc.connect_rpc.error_code", codeToString(code));
      if (serverFaults.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: rawMessage });
    }
    span.end();
  };
  try {
    const res = await context.with(ctx, () => next(req));
    if (!res.stream) {
      end();
      return res;
    }
    return { ...res, message: streamedWithin(ctx, res.message, end) } satisfies StreamResponse;
  } catch (e) {
    end(e);
    throw e;
  }
}

async function* streamedWithin<O>(ctx: Context, messages: AsyncIterable<O>, end: (error?: unknown) => void): AsyncIterable<O> {
  const iterator = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      const step = await context.with(ctx, () => iterator.next());
      if (step.done) break;
      yield step.value;
    }
    end();
  } catch (e) {
    end(e);
    throw e;
  } finally {
    // Left early: the client went away; let the handler's stream finish too.
    end(new ConnectError("the client went away", Code.Canceled));
    await iterator.return?.();
  }
}
