import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { JsonObject } from "@bufbuild/protobuf";
import type { HttpBinding } from "./http-rules.js";

/**
 * Server-Sent Events (WHATWG HTML "server-sent events") for REST server
 * streams: each message is one event whose data is the message's JSON and,
 * when the message has a resumeToken, whose id is that token, so that
 * EventSource's Last-Event-ID and `curl -N` resume where they left off.
 */
export const sseHeaders = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  // Proxies that buffer responses (nginx) would hold events back.
  "x-accel-buffering": "no",
} as const;

/** One event of a message's JSON, which connect writes on one line (JSON.stringify escapes every newline). */
export function sseEvent(json: Uint8Array): Buffer {
  const text = Buffer.from(json).toString("utf8");
  const token = (JSON.parse(text) as { resumeToken?: unknown }).resumeToken;
  const id = typeof token === "string" && token !== "" && !/[\r\n]/.test(token) ? `id: ${token}\n` : "";
  return Buffer.from(`${id}data: ${text}\n\n`);
}

/** The last event of a stream that failed: `event: error` with the google.rpc.Status JSON. */
export function sseError(statusJson: string | Uint8Array): Buffer {
  return Buffer.from(`event: error\ndata: ${JSON.stringify(JSON.parse(Buffer.from(statusJson).toString("utf8")))}\n\n`);
}

/** A reconnecting EventSource sends the last event id it saw: it resumes the stream when the request names no token itself. */
export function resumeFromLastEventId(req: IncomingMessage | Http2ServerRequest, binding: HttpBinding, request: JsonObject): void {
  const field = binding.method.input.fields.find((f) => f.name === "resume_token");
  const lastEventId = req.headers["last-event-id"];
  if (!field || typeof lastEventId !== "string" || lastEventId === "" || request[field.jsonName] !== undefined) return;
  request[field.jsonName] = lastEventId;
}
