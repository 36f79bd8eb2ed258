import { ScalarType, type DescField, type JsonValue } from "@bufbuild/protobuf";

/**
 * Text (a query parameter, a path segment, a command-line flag) as the proto3
 * JSON value of a field, by the field's descriptor. The REST transcoder, the
 * OpenAPI document and the CLI share it, so the three accept the same text.
 * Imports only protobuf-es, so clients may use it.
 */

/** Well-known message types whose JSON form is a string, so one text value can carry them. */
export const stringEncodedMessages: ReadonlySet<string> = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
]);

const integer = /^-?\d+$/;

export type Converted = { value: JsonValue } | { problem: string };

function notA(what: string, text: string): Converted {
  return { problem: `must be ${what}, not "${text.slice(0, 32)}"` };
}

/** The JSON value of one text for the field (a list field: of one element); enums by name or number. */
export function textToJson(field: DescField, text: string): Converted {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind;
  if (kind === "enum" && (field.fieldKind === "enum" || field.fieldKind === "list")) {
    const values = field.enum?.values ?? [];
    if (integer.test(text)) return { value: Number(text) };
    return values.some((v) => v.name === text) ? { value: text } : notA(`one of ${values.map((v) => v.name).join(", ")}`, text);
  }
  if (kind === "message" && (field.fieldKind === "message" || field.fieldKind === "list")) {
    const typeName = field.message?.typeName;
    if (typeName && stringEncodedMessages.has(typeName)) return { value: text };
  }
  if (field.fieldKind !== "scalar" && !(field.fieldKind === "list" && field.listKind === "scalar")) {
    return { problem: "cannot be set from the path or a query parameter" };
  }
  switch (field.scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return { value: text };
    case ScalarType.BOOL:
      return text === "true" || text === "false" ? { value: text === "true" } : notA("true or false", text);
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return integer.test(text) ? { value: text } : notA("an integer", text);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return text.trim() !== "" && Number.isFinite(Number(text)) ? { value: Number(text) } : notA("a number", text);
    default:
      return integer.test(text) && Number.isSafeInteger(Number(text)) ? { value: Number(text) } : notA("an integer", text);
  }
}
