import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { deadlineKey } from "../principal-context.js";

const exceeded = () => new ConnectError("the call's deadline passed", Code.DeadlineExceeded);

/** Epoch ms of the call's deadline, from grpc-timeout or connect-timeout-ms (connect refused malformed values already). */
function deadlineOf(header: Headers): number | undefined {
  const grpc = header.get("grpc-timeout");
  const { timeoutMs } = grpc !== null ? parseGrpcTimeout(grpc, Infinity) : parseConnectTimeout(header.get("connect-timeout-ms"), Infinity);
  return timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
}

/**
 * Deadlines end to end: connect-node aborts the context signal at the
 * deadline but answers whatever the handler returns, however late. Here a
 * call past its deadline ends DeadlineExceeded: refused before any work,
 * answered as soon as the deadline passes, and never with a late result.
 * Writes carry the deadline to storage (via the context), which rolls back
 * rather than commit past it (DeadlinePassed, mapped by store-error-interceptor.ts),
 * so DeadlineExceeded means nothing was written;
 * and the answer of a write that did commit is its result, even when it is
 * ready a moment after the deadline.
 */
export const deadlineInterceptor: Interceptor = (next) => async (req) => {
  const deadline = deadlineOf(req.header);
  if (deadline === undefined) return next(req);
  req.contextValues.set(deadlineKey, deadline);
  const passed = () => Date.now() >= deadline;
  if (passed()) throw exceeded();
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    // Timers may fire a millisecond early by Date.now(): answer only once storage can no longer commit.
    const arm = () => (timer = setTimeout(() => (passed() ? reject(exceeded()) : arm()), Math.max(1, deadline - Date.now())));
    arm();
  });
  let res: UnaryResponse | StreamResponse;
  try {
    res = await Promise.race([next(req), expiry]);
  } finally {
    clearTimeout(timer);
  }
  if (!res.stream) {
    if (passed() && req.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) throw exceeded();
    return res;
  }
  if (passed()) throw exceeded();
  const message = res.message;
  async function* beforeDeadline() {
    for await (const m of message) {
      if (passed()) throw exceeded();
      yield m;
    }
  }
  return { ...res, message: beforeDeadline() } satisfies StreamResponse;
};
