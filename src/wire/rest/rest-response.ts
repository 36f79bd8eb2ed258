import { createHash } from "node:crypto";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HttpBinding } from "./http-rules.js";
import type { NodeRequest, NodeResponse } from "./rest-request.js";
import { restError } from "./status-json.js";

export function send(res: NodeResponse, status: number, headers: Record<string, string>, body?: string | Uint8Array): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

export function sendError(res: NodeResponse, error: ConnectError, status?: number, extra: Record<string, string> = {}): void {
  const rendered = restError(error, status);
  send(res, rendered.status, { ...rendered.headers, ...extra }, rendered.body);
}

/** ETags of answers sent from their encoded bytes (encoded-json-answers.ts): the same bytes object until the answer changes. */
const etags = new WeakMap<Uint8Array, string>();

/** The ETag of a GET response: a digest of its bytes, so it changes exactly when they do. */
function bodyEtag(body: Uint8Array): string {
  let etag = etags.get(body);
  if (etag === undefined) {
    etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    etags.set(body, etag);
  }
  return etag;
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/** A unary call's answer: 200 with the message's JSON (or the field the binding's response_body names); a GET with its ETag, or 304 when the client has it. */
export function sendAnswer(req: NodeRequest, res: NodeResponse, binding: HttpBinding, json: Uint8Array, headers: Record<string, string>): void {
  let out = json;
  if (binding.responseBody !== "") {
    const field = binding.method.output.fields.find((f) => f.name === binding.responseBody);
    const message = JSON.parse(Buffer.from(json).toString("utf8")) as Record<string, JsonValue>;
    out = Buffer.from(JSON.stringify(field ? (message[field.jsonName] ?? null) : null));
  }
  headers["content-type"] = "application/json; charset=utf-8";
  if (binding.httpMethod === "GET") {
    const etag = bodyEtag(out);
    headers.etag = etag;
    if (etagMatches(req.headers["if-none-match"], etag)) return send(res, 304, headers);
  }
  send(res, 200, headers, out);
}

/** The answer to a path nothing serves: 404 with a google.rpc.Status body. */
export function notFound(req: NodeRequest, res: NodeResponse): void {
  const path = (req.url ?? "/").split("?", 1)[0]!.slice(0, 200);
  sendError(res, new ConnectError(`no route for ${req.method} ${path}`, Code.NotFound));
}
