import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { fromJson, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { invalidArgument, type FieldViolation } from "../../domain/validation/field-violations.js";

const jsonContentType = /^application\/(?:json|connect\+json|grpc\+json|grpc-web\+json)\s*(?:;|$)/i;

/** True for the error protobuf-es raises on a JSON request it cannot decode (connect-node makes it InvalidArgument). */
export function isJsonDecodeError(error: ConnectError): boolean {
  return error.code === Code.InvalidArgument && error.details.length === 0 && error.rawMessage.startsWith("cannot decode ");
}

/**
 * Bytes in a Connect encoding, decompressed; undefined for an encoding it does
 * not know. Only for bytes that decompressed once already, within the read
 * limit, or that the service compressed itself.
 */
export function decompress(encoding: string | null, bytes: Uint8Array): Uint8Array | undefined {
  if (encoding === null || encoding === "" || encoding === "identity") return bytes;
  if (encoding === "gzip") return gunzipSync(bytes);
  if (encoding === "br") return brotliDecompressSync(bytes);
  return undefined;
}

/** The JSON of the request's one message: a unary body, the first envelope of a stream, or a Connect GET's query. */
function requestJson(req: UniversalServerRequest, chunks: readonly Uint8Array[]): JsonValue | undefined {
  if (req.method === "GET") {
    const query = new URL(req.url).searchParams;
    if (query.get("encoding") !== "json") return undefined;
    const message = query.get("message") ?? "";
    const bytes = query.get("base64") === "1" ? base64Decode(message) : new TextEncoder().encode(message);
    return parse(decompress(query.get("compression"), bytes));
  }
  if (!(Symbol.asyncIterator in Object(req.body))) return req.body as JsonValue;
  const contentType = req.header.get("content-type") ?? "";
  const bytes = Buffer.concat(chunks);
  if (/^application\/json/i.test(contentType)) return parse(decompress(req.header.get("content-encoding"), bytes));
  if (bytes.byteLength < 5) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  const data = bytes.subarray(5, 5 + length);
  const encoding = req.header.get("connect-content-encoding") ?? req.header.get("grpc-encoding");
  return parse((bytes[0]! & 1) === 1 ? decompress(encoding, data) : data);
}

function parse(bytes: Uint8Array | undefined): JsonValue | undefined {
  return bytes && (JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")) as JsonValue);
}

/** Well-known types whose JSON is a string or any value: nothing inside them to name. */
const opaqueJsonMessages = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
  "google.protobuf.Any",
]);

function isObject(json: JsonValue): json is JsonObject {
  return typeof json === "object" && json !== null && !Array.isArray(json);
}

function decodes(schema: DescMessage, json: JsonValue): boolean {
  try {
    fromJson(schema, json);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first field of a JSON request that protobuf-es refuses, as a path with
 * list indexes ("requests[2].model.spec.status") and what it must be. Only
 * run once decoding failed, so the hot path pays nothing for it.
 */
function locate(schema: DescMessage, json: JsonValue, path: string): FieldViolation | undefined {
  if (!isObject(json)) return { field: path || "body", description: `must be a JSON object of ${schema.typeName}` };
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const at = `${path === "" ? "" : `${path}.`}${field?.jsonName ?? key}`.slice(0, 256);
    if (!field) return { field: at, description: `is not a field of ${schema.typeName}` };
    if (decodes(schema, { [key]: value })) continue;
    const message = field.message && !opaqueJsonMessages.has(field.message.typeName) ? field.message : undefined;
    if (message && field.fieldKind === "message") return locate(message, value, at) ?? { field: at, description: expected(field) };
    if (message && field.fieldKind === "list" && Array.isArray(value)) {
      const i = value.findIndex((item) => !decodes(message, item));
      if (i >= 0) return locate(message, value[i]!, `${at}[${i}]`) ?? { field: `${at}[${i}]`, description: `is not a valid ${message.typeName}` };
    }
    return { field: at, description: expected(field) };
  }
  return undefined;
}

function scalarJson(scalar: ScalarType): string {
  switch (scalar) {
    case ScalarType.STRING:
      return "a string";
    case ScalarType.BYTES:
      return "a base64 string";
    case ScalarType.BOOL:
      return "true or false";
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return "a number";
    default:
      return "an integer";
  }
}

/** What the JSON of a field must be, said without quoting the value it had (it may be a secret). */
function expected(field: DescField): string {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
  const item =
    kind === "enum" && field.enum
      ? `one of ${field.enum.values.map((v) => v.name).join(", ")}`
      : kind === "message" && field.message
        ? `a JSON value of ${field.message.typeName}`
        : field.scalar !== undefined
          ? scalarJson(field.scalar)
          : "a valid value";
  if (field.fieldKind === "list") return `must be an array whose items are each ${item}`;
  if (field.fieldKind === "map") return `must be an object whose values are each ${item}`;
  return `must be ${item}`;
}

/**
 * Records the request bytes connect-node reads, so that an error decoding
 * its JSON can name the field: protobuf-es names a type ("cannot decode enum
 * modelservice.v1.ModelStatus") rather than the request's field, and quotes
 * the value, which may be a credential. Only JSON requests are recorded; the
 * chunks are the ones connect reads anyway, within its read limit.
 */
export function recordJsonRequest(req: UniversalServerRequest): {
  request: UniversalServerRequest;
  /** The decode error as InvalidArgument naming the field, with no value quoted. */
  named(error: ConnectError, schema: DescMessage): ConnectError;
} {
  const chunks: Uint8Array[] = [];
  const body = req.body;
  const isStream = body !== null && typeof body === "object" && Symbol.asyncIterator in body;
  const recorded =
    isStream && jsonContentType.test(req.header.get("content-type") ?? "")
      ? {
          ...req,
          body: (async function* () {
            for await (const chunk of body as AsyncIterable<Uint8Array>) {
              chunks.push(chunk);
              yield chunk;
            }
          })(),
        }
      : req;
  return {
    request: recorded,
    named(error, schema) {
      let violation: FieldViolation | undefined;
      try {
        const json = requestJson(req, chunks);
        violation = json === undefined ? undefined : locate(schema, json, "");
      } catch {
        violation = undefined;
      }
      const named = invalidArgument([violation ?? { field: "body", description: `is not valid JSON for ${schema.typeName}` }]);
      error.metadata.forEach((value, key) => named.metadata.set(key, value));
      return named;
    },
  };
}
