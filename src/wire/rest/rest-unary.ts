import { fromJson, toJsonString, type DescMethod, type JsonObject, type JsonWriteOptions } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { errorFromJsonBytes, errorToJsonBytes, parseTimeout } from "@connectrpc/connect/protocol-connect";
import { openJsonAnswerSlot, type JsonAnswerOptions } from "../encoded-json-answers.js";
import { fixedCallError } from "../protocols/parse-error-status.js";
import { connectionClosed, runUnaryCall, type UnaryCall } from "../unary-call.js";
import type { HttpBinding } from "./http-rules.js";
import { forwardedHeaders, namedDecodeError, type NodeRequest, type NodeResponse } from "./rest-request.js";
import { sendAnswer, sendError } from "./rest-response.js";

export interface DirectCalls {
  /** ModelService's unary RPCs, with the interceptors registered on the router (connect-routes.ts). */
  calls: ReadonlyMap<DescMethod, UnaryCall>;
  /** The adapter's own JSON and compression options: answers and errors are the bytes connect would write. */
  jsonAnswers: JsonAnswerOptions;
}

const utf8 = new TextEncoder();

/**
 * The error as the REST client would have got it through connect's Connect
 * handler: fixed as its wrapper fixes call errors (parse-error-status.ts),
 * written as Connect error JSON and read back (so that details are exactly
 * those that survive the trip), then named after the request field.
 */
function asThroughConnect(error: ConnectError, binding: HttpBinding, request: JsonObject, jsonOptions: Partial<JsonWriteOptions>): ConnectError {
  const fixed = fixedCallError(error) ?? error;
  const read = errorFromJsonBytes(errorToJsonBytes(fixed, jsonOptions), undefined, new ConnectError("", Code.Unknown));
  return namedDecodeError(read, binding, request);
}

/**
 * A unary REST call run straight on its RPC's implementation and interceptors
 * (unary-call.ts), without a synthetic Connect request: the message decoded
 * from the transcoded JSON as connect decodes it, the deadline from
 * connect-timeout-ms as connect parses it, and the answer's encoded JSON
 * (encoded-json-answers.ts) written with its ETag. Auth, rate limit,
 * validation, metrics, logging and tracing are the interceptors', once.
 * Returns false without running anything when connect itself must answer,
 * with its own errors: a message the decoder refuses, a malformed
 * connect-timeout-ms.
 */
export async function serveUnaryDirectly(
  req: NodeRequest,
  res: NodeResponse,
  url: URL,
  binding: HttpBinding,
  request: JsonObject,
  call: UnaryCall,
  direct: DirectCalls,
): Promise<boolean> {
  let input;
  try {
    input = fromJson(binding.method.input, request);
  } catch {
    return false;
  }
  const requestHeader = forwardedHeaders(req);
  const timeout = parseTimeout(requestHeader["connect-timeout-ms"] ?? null, Number.MAX_SAFE_INTEGER);
  if (timeout.error) return false;
  const contextValues = createContextValues();
  const encodedAnswer = openJsonAnswerSlot(contextValues, direct.jsonAnswers);
  const outcome = await runUnaryCall(call, input, {
    protocolName: "connect",
    requestMethod: req.method ?? "GET",
    url: url.href,
    requestHeader: new Headers(requestHeader),
    timeoutMs: timeout.timeoutMs,
    onClientGone: (gone) => res.once("close", () => gone(connectionClosed)),
    contextValues,
  });
  const headers: Record<string, string> = {};
  if (!outcome.ok) {
    const requestId = outcome.error.metadata.get("x-request-id") ?? outcome.responseHeader.get("x-request-id");
    if (requestId) headers["x-request-id"] = requestId;
    sendError(res, asThroughConnect(outcome.error, binding, request, direct.jsonAnswers.jsonOptions), undefined, headers);
    return true;
  }
  const requestId = outcome.responseHeader.get("x-request-id");
  if (requestId) headers["x-request-id"] = requestId;
  // REST answers are never compressed (connect saw no accept-encoding when REST went through it).
  const json = (await encodedAnswer(null))?.bytes ?? utf8.encode(toJsonString(binding.method.output, outcome.message, direct.jsonAnswers.jsonOptions));
  sendAnswer(req, res, binding, json, headers);
  return true;
}
