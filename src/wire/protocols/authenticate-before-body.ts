import { createAsyncIterable, encodeEnvelope, type UniversalHandler, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import type { TokenVerifier } from "../../domain/auth/token-verifier.js";
import { bearerVerifies } from "../interceptors/auth-interceptor.js";

const enveloped = /^application\/(grpc|grpc-web|connect)(\+(\w+))?\s*(;|$)/i;
const bodyHeaders = ["content-length", "content-encoding", "connect-content-encoding", "grpc-encoding"];

/** The request with an empty message in place of its body (or GET query), in the request's own protocol and codec. */
function withEmptyMessage(req: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(req.header);
  for (const name of bodyHeaders) header.delete(name);
  if (req.method === "GET") {
    const url = new URL(req.url);
    url.searchParams.set("message", "{}");
    url.searchParams.set("encoding", "json");
    url.searchParams.delete("base64");
    url.searchParams.delete("compression");
    return { ...req, url: url.toString(), header };
  }
  const contentType = req.header.get("content-type") ?? "";
  const envelope = enveloped.exec(contentType);
  let body: UniversalServerRequest["body"];
  if (envelope) {
    const json = envelope[3]?.toLowerCase() === "json";
    body = createAsyncIterable([encodeEnvelope(0, json ? new TextEncoder().encode("{}") : new Uint8Array(0))]);
  } else if (/^application\/json\s*(;|$)/i.test(contentType)) {
    body = {};
  } else {
    body = createAsyncIterable([]);
  }
  return { ...req, header, body };
}

/**
 * Authentication from the headers, before the body is read: a call of a
 * service behind the auth interceptor whose bearer token does not verify runs
 * with an empty message instead of its body, so the auth interceptor refuses
 * it (Unauthenticated, in the caller's protocol, logged and counted as any
 * call) and the body — however large, deep or endless — is never read or
 * parsed. Calls with a valid token pass untouched.
 */
export function authenticateBeforeBody(handler: UniversalHandler, verifier: TokenVerifier): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest) => {
    const verified = await bearerVerifies(verifier, req.header.get("authorization"));
    return handler(verified ? req : withEmptyMessage(req));
  };
  return Object.assign(wrapped, handler);
}
