import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type ContextValues, type Interceptor, type MethodImplSpec } from "@connectrpc/connect";
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
  requestHeader: Record<string, string>;
  responseHeader?: Record<string, string>;
  timeoutMs?: number;
  /** Aborted when the client goes away. */
  requestSignal?: AbortSignal;
  contextValues: ContextValues;
}

export type UnaryOutcome =
  | { ok: true; message: MessageShape<DescMessage>; responseHeader: Headers; trailer: Headers }
  | { ok: false; error: ConnectError; responseHeader: Headers; trailer: Headers };

/** The reason a finished call's context is aborted with: given, so that no DOMException (a stack trace) is made per call. */
const callEnded = new ConnectError("the call ended", Code.Canceled);

/**
 * Runs a unary RPC for a request message its caller decoded itself, exactly
 * as connect's unary handlers run it once they have the message: a
 * HandlerContext from createHandlerContext (headers, deadline, signals,
 * context values), then invokeUnaryImplementation with the one interceptor
 * list of the service. A failure is what connect would report: the
 * ConnectError thrown, anything else Internal "internal error". What is left
 * to the caller is what connect does around this: decoding the request and
 * writing the answer.
 */
export async function runUnaryCall(call: UnaryCall, input: MessageShape<DescMessage>, init: UnaryCallInit): Promise<UnaryOutcome> {
  const context = createHandlerContext({ ...init, service: call.spec.method.parent, method: call.spec.method });
  try {
    const message = await invokeUnaryImplementation(call.spec, context, input, call.interceptors);
    context.abort(callEnded);
    return { ok: true, message, responseHeader: context.responseHeader, trailer: context.responseTrailer };
  } catch (e) {
    context.abort(e);
    const error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    return { ok: false, error, responseHeader: context.responseHeader, trailer: context.responseTrailer };
  }
}
