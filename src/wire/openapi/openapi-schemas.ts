import { getOption, hasOption, ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { field_behavior, FieldBehavior } from "../../../gen/google/api/field_behavior_pb.js";
import { comments as modelComments } from "../../../gen/modelservice/v1/model_comments.js";
import { comments as serviceComments } from "../../../gen/modelservice/v1/model_service_comments.js";
import { comments as optionsComments } from "../../../gen/modelservice/v1/options_comments.js";
import { page_size, required_scope } from "../../../gen/modelservice/v1/options_pb.js";
import { fieldRules, pageSizeOf } from "../../proto/field-rules.js";

/*
 * JSON schemas of messages and enums for the OpenAPI document
 * (openapi-document.ts): proto comments as descriptions, field behaviors and
 * our field rules as keywords, the canonical JSON mapping as types.
 */

export type Schema = Record<string, unknown>;

export type Parameter = Record<string, unknown>;

// ---------------------------------------------------------------- comments

/**
 * Generated descriptors drop source info, so the comments come from the
 * protoc-gen-comments output. google.rpc.Status is Google's proto, not ours:
 * its texts are written here (a few words, no field or route).
 */
const protoComments: Readonly<Record<string, string>> = {
  "google.rpc.Status":
    "The error of a failed call, as grpc-gateway writes it: the JSON form of google.rpc.Status. " +
    "The HTTP status follows the standard gRPC to HTTP mapping.",
  "google.rpc.Status.code": "The numeric gRPC status code (google.rpc.Code), e.g. 5 for NOT_FOUND.",
  "google.rpc.Status.message": "A developer-facing error message, in English.",
  "google.rpc.Status.details":
    "Details of the error, each naming its type in \"@type\" (e.g. google.rpc.BadRequest with field violations).",
  ...optionsComments,
  ...modelComments,
  ...serviceComments,
};

export function commentOf(fullName: string): string | undefined {
  return protoComments[fullName];
}

function fieldComment(field: DescField): string | undefined {
  return commentOf(`${field.parent.typeName}.${field.name}`);
}

export function methodComment(method: DescMethod): string | undefined {
  return commentOf(`${method.parent.typeName}.${method.name}`);
}

/** The first sentence of a comment, for an operation's one-line summary. */
export function firstSentence(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, " ").trim();
  const end = flat.search(/\.(\s|$)/);
  return end >= 0 ? flat.slice(0, end) : flat;
}

/** Joins the non-empty parts of a description into paragraphs. */
export function paragraphs(...parts: Array<string | undefined>): string | undefined {
  const text = parts.filter((p): p is string => p !== undefined && p !== "").join("\n\n");
  return text === "" ? undefined : text;
}

// ---------------------------------------------------------------- field options

function behaviorsOf(field: DescField): readonly FieldBehavior[] {
  return hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
}

export function isRequired(field: DescField): boolean {
  return behaviorsOf(field).includes(FieldBehavior.REQUIRED);
}

export function isOutputOnly(field: DescField): boolean {
  return behaviorsOf(field).includes(FieldBehavior.OUTPUT_ONLY);
}

export function scopeOf(method: DescMethod): string | undefined {
  return hasOption(method, required_scope) ? getOption(method, required_scope) : undefined;
}

// ---------------------------------------------------------------- JSON types

/** The value type of a field, whatever its cardinality (singular, list element or map value). */
export type ValueType = { kind: "scalar"; scalar: ScalarType } | { kind: "enum"; desc: DescEnum } | { kind: "message"; desc: DescMessage };

export function valueTypeOf(field: DescField): ValueType {
  switch (field.fieldKind) {
    case "scalar":
      return { kind: "scalar", scalar: field.scalar };
    case "enum":
      return { kind: "enum", desc: field.enum };
    case "message":
      return { kind: "message", desc: field.message };
    case "list":
    case "map": {
      const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
      if (kind === "enum") return { kind, desc: field.enum! };
      if (kind === "message") return { kind, desc: field.message! };
      return { kind, scalar: field.scalar! };
    }
  }
}

/** Proto3 JSON of the scalar types: 64-bit integers are decimal strings, since JSON numbers lose precision past 2^53. */
function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    // "int32" would document the wrong range for values above 2^31.
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
  }
}

/** Well-known types whose proto3 JSON form is not an object of their fields. */
const wellKnownSchemas: Readonly<Record<string, Schema>> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: 'Seconds with up to 9 fractional digits and an "s" suffix, e.g. "1.5s".',
  },
  "google.protobuf.FieldMask": {
    type: "string",
    description: 'Comma-separated field paths in camelCase, e.g. "spec.family,metadata.labels".',
  },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.NullValue": { type: "null" },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string", description: "Type URL of the packed message." } },
    required: ["@type"],
    additionalProperties: true,
  },
};

/** The inline schema of a well-known type, or undefined for a message that gets a component. */
export function wellKnownSchema(message: DescMessage): Schema | undefined {
  const known = wellKnownSchemas[message.typeName];
  if (known) return structuredClone(known);
  // A wrapper's JSON is its bare value.
  if (isWrapperDesc(message)) return scalarSchema(message.fields[0].scalar);
  return undefined;
}

// ---------------------------------------------------------------- components

/**
 * Builds `components.schemas`: one named schema per message and enum that
 * the operations reach, added the first time it is referenced (so only what
 * is reachable ends up in the document).
 */
export class Components {
  readonly schemas: Record<string, Schema> = {};

  ref(typeName: string): Schema {
    return { $ref: `#/components/schemas/${typeName}` };
  }

  /** The schema of a value of this type: a $ref, or the inline form of a well-known type or scalar. */
  valueSchema(type: ValueType): Schema {
    switch (type.kind) {
      case "scalar":
        return scalarSchema(type.scalar);
      case "enum":
        if (type.desc.typeName === "google.protobuf.NullValue") return { type: "null" };
        this.addEnum(type.desc);
        return this.ref(type.desc.typeName);
      case "message": {
        const known = wellKnownSchema(type.desc);
        if (known) return known;
        this.addMessage(type.desc);
        return this.ref(type.desc.typeName);
      }
    }
  }

  /**
   * A field's schema with its cardinality and annotations. `requestTop` is
   * true for fields of an inline request schema, whose REQUIRED fields are
   * listed in `required` instead of being noted in the description.
   */
  fieldSchema(field: DescField, requestTop = false): Schema {
    const value = this.valueSchema(valueTypeOf(field));
    let schema: Schema;
    if (field.fieldKind === "list") schema = { type: "array", items: value };
    else if (field.fieldKind === "map") schema = { type: "object", additionalProperties: value };
    else schema = value;
    return { ...schema, ...ruleKeywords(field, schema), ...fieldAnnotations(field, requestTop) };
  }

  /**
   * The component of a message, shared by requests and responses. REQUIRED
   * fields are not in its `required` list: the canonical JSON omits a field
   * that holds its default ("" or 0), so a response can lawfully lack one, and
   * an update under a field mask sends only some. The description says it.
   */
  addMessage(message: DescMessage): void {
    if (message.typeName in this.schemas) return;
    const schema: Schema = { type: "object" };
    // Registered before its fields, so a recursive message refers to itself instead of looping.
    this.schemas[message.typeName] = schema;
    const description = commentOf(message.typeName);
    if (description) schema.description = description;
    schema.properties = Object.fromEntries(message.fields.map((f) => [f.jsonName, this.fieldSchema(f)]));
    // No `additionalProperties: false`: fields added later must not break clients that validate.
  }

  addEnum(desc: DescEnum): void {
    if (desc.typeName in this.schemas) return;
    const values = desc.values.map((v) => {
      const text = commentOf(`${desc.typeName}.${v.name}`);
      return `- \`${v.name}\`${text ? `: ${text.replace(/\s*\n\s*/g, " ")}` : ""}`;
    });
    this.schemas[desc.typeName] = {
      type: "string",
      // Proto3 JSON writes enums by name; MODEL_STATUS_* is the only vocabulary on the wire.
      enum: desc.values.map((v) => v.name),
      description: paragraphs(commentOf(desc.typeName), values.join("\n")),
    };
  }

  /** Components in name order, so the document is stable from run to run. */
  sorted(): Record<string, Schema> {
    return Object.fromEntries(Object.entries(this.schemas).sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** The rulebook's limits of a field (its rules and page_size options) as JSON Schema keywords. */
function ruleKeywords(field: DescField, schema: Schema): Schema {
  const r = fieldRules(field);
  const out: Schema = {};
  if (r?.maxLength !== undefined) out.maxLength = r.maxLength;
  if (r?.pattern !== undefined) out.pattern = r.pattern;
  if (r?.minimum !== undefined) out.minimum = Number(r.minimum);
  if (r?.maximum !== undefined) out.maximum = Number(r.maximum);
  if (field.fieldKind === "list") {
    if (r?.minItems !== undefined) out.minItems = r.minItems;
    if (r?.maxItems !== undefined) out.maxItems = r.maxItems;
  }
  if (field.fieldKind === "map") {
    if (r?.maxItems !== undefined) out.maxProperties = r.maxItems;
    if (r?.keyPattern !== undefined) out.propertyNames = { pattern: r.keyPattern };
    if (r?.valuePattern !== undefined) out.additionalProperties = { ...(schema.additionalProperties as Schema), pattern: r.valuePattern };
  }
  if (hasOption(field, page_size)) out.default = pageSizeOf(field).defaultSize;
  return out;
}

/** Description, readOnly / writeOnly and deprecation of a field, from its comment and options. */
function fieldAnnotations(field: DescField, requestTop: boolean): Schema {
  const behaviors = behaviorsOf(field);
  const notes: string[] = [];
  if (behaviors.includes(FieldBehavior.REQUIRED) && !requestTop) notes.push("Required in requests.");
  if (behaviors.includes(FieldBehavior.IMMUTABLE)) notes.push("Immutable: set on creation, never changed.");
  if (field.oneof) {
    const members = field.oneof.fields.map((f) => `\`${f.jsonName}\``).join(", ");
    notes.push(`At most one of ${members} is set.`);
  }
  const out: Schema = {};
  if (hasOption(field, page_size)) notes.push(`At most ${pageSizeOf(field).maxSize}; larger values are clamped.`);
  const description = paragraphs(fieldComment(field), notes.join(" "));
  if (description) out.description = description;
  if (behaviors.includes(FieldBehavior.OUTPUT_ONLY)) out.readOnly = true;
  if (behaviors.includes(FieldBehavior.INPUT_ONLY)) out.writeOnly = true;
  if (field.deprecated) out.deprecated = true;
  return out;
}
