import { toJson, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";

function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k]!)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Digest of a request for AIP-155: the method and the request without its
 * request id, in JSON with sorted keys, so a retry matches whatever order its
 * labels come in, and a reuse of the id with another body does not.
 */
export function requestDigest(method: string, schema: DescMessage, request: Message & { requestId: string }): string {
  const json = toJson(schema, { ...request, requestId: "" } as never) as JsonValue;
  return createHash("sha256").update(method).update(canonical(json)).digest("base64url");
}
