import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { expect } from "vitest";

/** A google.rpc.Status as REST answers it. */
export interface StatusJson {
  code: number;
  message: string;
  details?: Array<{ "@type": string; fieldViolations?: Array<{ field: string; description: string }>; [key: string]: JsonValue | undefined }>;
}

/**
 * A REST error: its HTTP status and headers, the google.rpc.Status body and
 * the raw text. (Not a ConnectError subclass: ConnectError's
 * Symbol.hasInstance would make every ConnectError look like one.)
 */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: StatusJson,
    readonly text: string,
  ) {
    super(`[HTTP ${status}] ${body.message}`);
  }
  get code(): Code {
    return this.body.code as Code;
  }
  /** The fields its BadRequest details name. */
  get fields(): string[] {
    return (this.body.details ?? []).flatMap((d) => (d.fieldViolations ?? []).map((v) => v.field));
  }
}

export interface RestAnswer {
  json: JsonValue;
  text: string;
  headers: Headers;
}

/** One REST call with a bearer token and a JSON body; a non-200 answer is thrown as a RestError. */
export async function restCall(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RestAnswer> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) {
    let status: StatusJson;
    try {
      status = JSON.parse(text) as StatusJson;
    } catch {
      throw new Error(`HTTP ${res.status} without a google.rpc.Status body: ${text.slice(0, 200)}`);
    }
    expect(typeof status.code, text).toBe("number");
    throw new RestError(res.status, res.headers, status, text);
  }
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  return { json: JSON.parse(text) as JsonValue, text, headers: res.headers };
}
