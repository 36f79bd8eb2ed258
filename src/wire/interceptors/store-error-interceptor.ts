import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { DeadlinePassed, StoreBusy, StoreUnavailable } from "../../domain/errors/store-errors.js";

/**
 * The one place the store's typed failures become codes: busy is
 * Unavailable (retryable: nothing was written), so is a database that cannot
 * be reached (retryable: a write's request id makes the retry safe), a
 * deadline that passed before the commit is DeadlineExceeded. Never Unknown
 * or Internal.
 */
function mapped(e: unknown): unknown {
  if (e instanceof StoreBusy) return new ConnectError(e.message, Code.Unavailable, undefined, undefined, e);
  if (e instanceof StoreUnavailable) return new ConnectError(e.message, Code.Unavailable, undefined, undefined, e);
  if (e instanceof DeadlinePassed) return new ConnectError(e.message, Code.DeadlineExceeded, undefined, undefined, e);
  return e;
}

/** Maps store errors of unary calls and of streams, wherever in the stream they are thrown. */
export const storeErrorInterceptor: Interceptor = (next) => async (req) => {
  let res;
  try {
    res = await next(req);
  } catch (e) {
    throw mapped(e);
  }
  if (!res.stream) return res;
  const message = res.message;
  async function* guarded() {
    try {
      yield* message;
    } catch (e) {
      throw mapped(e);
    }
  }
  return { ...res, message: guarded() } satisfies StreamResponse;
};
