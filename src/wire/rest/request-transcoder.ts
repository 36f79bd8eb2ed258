import { fromJson, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import type { FieldViolation } from "../../domain/validation/field-violations.js";
import { stringEncodedMessages, textToJson } from "../../proto/scalar-text.js";
import { withoutSecrets } from "../protocols/secret-redaction.js";
import type { HttpBinding } from "./http-rules.js";
import type { PathBindings } from "./path-template.js";

function fieldNamed(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}

/** Resolves a dotted path of proto or JSON names to the fields it walks through. */
function resolvePath(message: DescMessage, names: readonly string[]): DescField[] | undefined {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of names) {
    const field: DescField | undefined = current && fieldNamed(current, name);
    if (!field) return undefined;
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

function jsonPath(fields: readonly DescField[]): string {
  return fields.map((f) => f.jsonName).join(".");
}

function setPath(target: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let node = target;
  for (const field of fields.slice(0, -1)) {
    const next = node[field.jsonName];
    node = (node[field.jsonName] = typeof next === "object" && next !== null && !Array.isArray(next) ? next : {}) as JsonObject;
  }
  node[fields[fields.length - 1]!.jsonName] = value;
}

/**
 * The body field of a binding when it is a google.api.HttpBody: it takes the
 * raw request bytes, whatever their content type, not a JSON body.
 */
export function httpBodyField(binding: HttpBinding): DescField | undefined {
  if (binding.body === "" || binding.body === "*") return undefined;
  const field = fieldNamed(binding.method.input, binding.body);
  return field?.fieldKind === "message" && field.message.typeName === "google.api.HttpBody" ? field : undefined;
}

/** Raw request bytes as the proto JSON of a google.api.HttpBody. */
export function httpBodyJson(data: Uint8Array, contentType: string): JsonObject {
  return { contentType, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64") };
}

export type Transcoded = { ok: true; request: JsonObject } | { ok: false; violations: FieldViolation[] };

/**
 * The request message, as proto JSON, of a REST call: the body (all of it or
 * one field), the path variables, and for the remaining fields the query
 * parameters (proto or JSON names, dotted for nested fields, repeated keys for
 * repeated fields, enum values by name).
 */
export function transcodeRequest(
  binding: HttpBinding,
  path: PathBindings,
  query: URLSearchParams,
  body: JsonValue | undefined,
): Transcoded {
  const input = binding.method.input;
  const violations: FieldViolation[] = [];
  let request: JsonObject = {};
  if (binding.body === "*") {
    if (body !== undefined) {
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        return { ok: false, violations: [{ field: "body", description: "must be a JSON object" }] };
      }
      request = body;
    }
  } else if (binding.body !== "") {
    const field = fieldNamed(input, binding.body);
    if (field && body !== undefined) request[field.jsonName] = body;
  }
  const bound = new Set<string>();
  for (const { fieldPath, value } of path) {
    const fields = resolvePath(input, fieldPath);
    if (!fields) continue;
    const converted = textToJson(fields[fields.length - 1]!, value);
    if ("problem" in converted) {
      violations.push({ field: jsonPath(fields), description: converted.problem });
      continue;
    }
    bound.add(jsonPath(fields));
    setPath(request, fields, converted.value);
  }
  for (const key of new Set(query.keys())) {
    const fields = resolvePath(input, key.split("."));
    if (!fields) {
      violations.push({ field: key.slice(0, 64), description: "is not a parameter of this request" });
      continue;
    }
    const name = jsonPath(fields);
    const last = fields[fields.length - 1]!;
    if (binding.body === "*" || bound.has(name) || fields[0]!.name === binding.body) {
      violations.push({ field: name, description: "is set by the path or the body, not a query parameter" });
      continue;
    }
    const converted = query.getAll(key).map((text) => textToJson(last, text));
    const problem = converted.find((c) => "problem" in c);
    if (problem && "problem" in problem) {
      violations.push({ field: name, description: problem.problem });
      continue;
    }
    const values = converted.map((c) => ("value" in c ? c.value : null));
    if (last.fieldKind === "list") setPath(request, fields, values);
    else if (values.length > 1) violations.push({ field: name, description: "is given more than once" });
    else setPath(request, fields, values[0]!);
  }
  return violations.length > 0 ? { ok: false, violations } : { ok: true, request };
}

/** Why the decoder refuses the JSON, never quoting a credentials value. */
function decodes(schema: DescMessage, json: JsonObject): string | undefined {
  try {
    fromJson(schema, json);
    return undefined;
  } catch (e) {
    return withoutSecrets((e as Error).message);
  }
}

/**
 * Which field of a JSON request the proto JSON decoder refuses, for an error
 * that names it. Only called once decoding has failed, so the hot path pays
 * nothing for it.
 */
export function jsonFieldProblem(schema: DescMessage, json: JsonValue, parent = ""): FieldViolation | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { field: parent || "body", description: "must be a JSON object" };
  }
  for (const [key, value] of Object.entries(json)) {
    const field = fieldNamed(schema, key);
    const path = parent === "" ? (field?.jsonName ?? key) : `${parent}.${field?.jsonName ?? key}`;
    if (!field) return { field: path.slice(0, 128), description: "is not a field of " + schema.typeName };
    const problem = decodes(schema, { [key]: value });
    if (problem === undefined) continue;
    if (field.fieldKind === "message" && !stringEncodedMessages.has(field.message.typeName) && typeof value === "object") {
      return jsonFieldProblem(field.message, value, path) ?? { field: path, description: problem };
    }
    return { field: path, description: problem.slice(0, 200) };
  }
  return undefined;
}
