import type { DescMethod, JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import type { TokenVerifier } from "../../domain/auth/token-verifier.js";
import { invalidArgument } from "../../domain/validation/field-violations.js";
import { bearerVerifies } from "../interceptors/auth-interceptor.js";
import type { HttpBinding } from "./http-rules.js";
import { httpBodyField, transcodeRequest } from "./request-transcoder.js";
import { forwardedHeaders, namedDecodeError, readHttpBody, readJsonBody, RestFailure, type NodeRequest, type NodeResponse } from "./rest-request.js";
import { sendAnswer, sendError } from "./rest-response.js";
import { RestRouter } from "./rest-router.js";
import { serveStream } from "./rest-stream.js";
import { serveUnaryDirectly, type DirectCalls } from "./rest-unary.js";

export { notFound } from "./rest-response.js";

export interface RestOptions {
  bindings: readonly HttpBinding[];
  /** The router's handler of each RPC: REST calls run the very same handlers, interceptors and error path. */
  handlers: ReadonlyMap<DescMethod, UniversalHandler>;
  /** Unary GETs of these RPCs run on their implementation and interceptors directly, without a Connect request (rest-unary.ts). */
  direct?: DirectCalls;
  maxBodyBytes: number;
  /** When set, a call whose bearer token does not verify is neither read nor transcoded: it runs with an empty message, and auth refuses it. */
  verifier?: TokenVerifier;
  /** Deepest nesting a JSON body may have (InvalidArgument beyond); none when unset. */
  maxJsonDepth?: number;
}

/** A unary answer's body; a single chunk (an encoded answer) as it is, so that its ETag is found again. */
async function answerBytes(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * REST transcoding: routes from the google.api.http rules, each call turned
 * into a Connect JSON call of the same RPC — or, for a unary GET, run on the
 * RPC's implementation directly — and answered as REST (200 with the
 * message, or the google.rpc.Status of the error). Returns false when the
 * path is no REST route, so other handlers can answer it.
 */
export function restHandler(options: RestOptions): (req: NodeRequest, res: NodeResponse) => boolean {
  const router = new RestRouter(options.bindings);
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://rest");
    const route = router.match(req.method === "HEAD" ? "GET" : (req.method ?? "GET"), url.pathname);
    if (route.kind === "none") return false;
    if (route.kind === "method-not-allowed") {
      sendError(res, new ConnectError(`${req.method} is not allowed on ${url.pathname.slice(0, 200)}`, Code.Unimplemented), 405, {
        allow: route.allow.join(", "),
      });
      return true;
    }
    const handler = options.handlers.get(route.binding.method);
    if (!handler) return false;
    serve(req, res, route.binding, route.path, url, handler, options).catch((e: unknown) => {
      if (e instanceof RestFailure) return sendError(res, e.error, e.status);
      sendError(res, ConnectError.from(e));
    });
    return true;
  };
}

/** Whether the call's bearer token verifies; true when there is no verifier to ask. */
async function verifies(verifier: TokenVerifier | undefined, req: NodeRequest): Promise<boolean> {
  if (!verifier) return true;
  return bearerVerifies(verifier, req.headers.authorization);
}

/** The request message of a REST call: its body, path and query parameters, or InvalidArgument naming each bad one. */
async function transcodedRequest(
  req: NodeRequest,
  binding: HttpBinding,
  path: Parameters<typeof transcodeRequest>[1],
  url: URL,
  options: RestOptions,
): Promise<JsonObject> {
  let body: JsonValue | undefined;
  if (binding.body !== "") {
    body = httpBodyField(binding) ? await readHttpBody(req, options.maxBodyBytes) : await readJsonBody(req, options.maxBodyBytes, options.maxJsonDepth);
  }
  const transcoded = transcodeRequest(binding, path, url.searchParams, body);
  if (!transcoded.ok) throw new RestFailure(invalidArgument(transcoded.violations));
  return transcoded.request;
}

async function serve(
  req: NodeRequest,
  res: NodeResponse,
  binding: HttpBinding,
  path: Parameters<typeof transcodeRequest>[1],
  url: URL,
  handler: UniversalHandler,
  options: RestOptions,
): Promise<void> {
  const request = (await verifies(options.verifier, req)) ? await transcodedRequest(req, binding, path, url, options) : {};
  if (binding.method.methodKind === "server_streaming") return serveStream(req, res, binding, request, handler);
  const call = binding.httpMethod === "GET" ? options.direct?.calls.get(binding.method) : undefined;
  if (call && (await serveUnaryDirectly(req, res, url, binding, request, call, options.direct!))) return;
  const uRes = await handler({
    ...universalRequestFromNodeRequest(req, res, request, undefined),
    method: "POST",
    header: new Headers(forwardedHeaders(req)),
  });
  const bytes = await answerBytes(uRes.body);
  const headers: Record<string, string> = {};
  const requestId = uRes.header?.get("x-request-id");
  if (requestId) headers["x-request-id"] = requestId;
  if (uRes.status !== 200) {
    const error = errorFromJsonBytes(bytes, uRes.header, new ConnectError(`HTTP ${uRes.status}`, Code.Unknown));
    return sendError(res, namedDecodeError(error, binding, request), undefined, headers);
  }
  sendAnswer(req, res, binding, bytes, headers);
}
