import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext, type Interceptor, type MethodImplSpec } from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";

/** A unary RPC as connect's router holds it: the implementation and the interceptors registered with it (connect-routes.ts). */
export interface UnaryCall {
  spec: MethodImplSpec & { kind: "unary" };
  interceptors: Interceptor[];
}

export interface UnaryCallInit {
  protocolName: string;
  requestMethod: string;
  url: string;
  requestHeader: Headers;
  responseHeader?: Record<string, string>;
  responseTrailer?: Record<string, string>;
  timeoutMs?: number;
  /** Registers `gone`, to be called (with the reason) when the client goes away. */
  onClientGone: (gone: (reason: ConnectError) => void) => void;
  contextValues: ContextValues;
}

export type UnaryOutcome =
  | { ok: true; message: MessageShape<DescMessage>; responseHeader: Headers; trailer: Headers }
  | { ok: false; error: ConnectError; responseHeader: Headers; trailer: Headers };

/** The reason a finished call's context is aborted with: given, so that no DOMException (a stack trace) is made per call. */
const callEnded = new ConnectError("the call ended", Code.Canceled);
/** Why a call's context aborts when its HTTP/1.1 client closes the connection. */
export const connectionClosed = new ConnectError("the client closed the connection", Code.Canceled);
const deadlinePassed = new ConnectError("the operation timed out", Code.DeadlineExceeded);

/**
 * The HandlerContext connect's createHandlerContext makes, with one
 * AbortController instead of three: connect links a deadline controller and
 * the request's own signal into a third, where here the deadline timer and the
 * client going away abort the context's controller directly. Its signal
 * aborts as connect's does: at the deadline, when the client goes away, and
 * when the call ends.
 */
function handlerContext(call: UnaryCall, init: UnaryCallInit): HandlerContext & { end(reason: unknown): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timeoutMs: () => number | undefined = () => undefined;
  if (init.timeoutMs !== undefined) {
    const deadline = Date.now() + init.timeoutMs;
    timeoutMs = () => deadline - Date.now();
    if (init.timeoutMs <= 0) controller.abort(deadlinePassed);
    else timer = setTimeout(() => controller.abort(deadlinePassed), init.timeoutMs);
  }
  init.onClientGone((reason) => controller.abort(reason));
  return {
    method: call.spec.method,
    service: call.spec.method.parent,
    protocolName: init.protocolName,
    requestMethod: init.requestMethod,
    url: init.url,
    signal: controller.signal,
    timeoutMs,
    requestHeader: init.requestHeader,
    responseHeader: new Headers(init.responseHeader),
    responseTrailer: new Headers(init.responseTrailer),
    values: init.contextValues,
    end(reason) {
      clearTimeout(timer);
      controller.abort(reason);
    },
  };
}

/**
 * Runs a unary RPC for a request message its caller decoded itself, exactly
 * as connect's unary handlers run it once they have the message: a
 * HandlerContext (headers, deadline, signal, context values), then
 * invokeUnaryImplementation with the one interceptor list of the service. A
 * failure is what connect would report: the ConnectError thrown, anything
 * else Internal "internal error". What is left to the caller is what connect
 * does around this: decoding the request and writing the answer.
 */
export async function runUnaryCall(call: UnaryCall, input: MessageShape<DescMessage>, init: UnaryCallInit): Promise<UnaryOutcome> {
  const context = handlerContext(call, init);
  try {
    const message = await invokeUnaryImplementation(call.spec, context, input, call.interceptors);
    context.end(callEnded);
    return { ok: true, message, responseHeader: context.responseHeader, trailer: context.responseTrailer };
  } catch (e) {
    context.end(e);
    const error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    return { ok: false, error, responseHeader: context.responseHeader, trailer: context.responseTrailer };
  }
}
