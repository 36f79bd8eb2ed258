import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";

/**
 * The one request message of a unary or server-streaming call, so that
 * interceptors can check it before the handler runs. A server-streaming
 * request is read and handed on as a fresh one-message stream.
 */
export async function withRequestMessage<T extends UnaryRequest | StreamRequest>(req: T, check: (message: Message) => void | Promise<void>): Promise<T> {
  if (!req.stream) {
    await check(req.message);
    return req;
  }
  if (req.method.methodKind !== "server_streaming") {
    throw new ConnectError(`${req.method.name}: streaming requests are not supported`, Code.Unimplemented);
  }
  const first = await req.message[Symbol.asyncIterator]().next();
  if (first.done) throw new ConnectError("missing request message", Code.InvalidArgument);
  await check(first.value);
  return {
    ...req,
    message: (async function* () {
      yield first.value;
    })(),
  };
}
