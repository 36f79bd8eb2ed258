import {
  getOption,
  hasOption,
  ScalarType,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { field_behavior, FieldBehavior } from "../../../gen/google/api/field_behavior_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { comments as modelComments } from "../../../gen/modelservice/v1/model_comments.js";
import { comments as serviceComments } from "../../../gen/modelservice/v1/model_service_comments.js";
import { comments as optionsComments } from "../../../gen/modelservice/v1/options_comments.js";
import { page_size, required_scope } from "../../../gen/modelservice/v1/options_pb.js";
import { fieldRules, pageSizeOf } from "../../proto/field-rules.js";
import { stringEncodedMessages } from "../../proto/scalar-text.js";
import type { HttpBinding } from "../rest/http-rules.js";
import type { PathTemplate, TemplateVariable } from "../rest/path-template.js";

/**
 * The OpenAPI 3.1 document of the REST surface, written from the descriptors:
 * routes from the google.api.http rules, schemas from the messages in the
 * proto3 canonical JSON mapping, texts from the proto comments. Nothing about
 * a route or a field is restated here, so the document cannot drift from the
 * proto.
 */

type Schema = Record<string, unknown>;
type Parameter = Record<string, unknown>;

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

function commentOf(fullName: string): string | undefined {
  return protoComments[fullName];
}

function fieldComment(field: DescField): string | undefined {
  return commentOf(`${field.parent.typeName}.${field.name}`);
}

function methodComment(method: DescMethod): string | undefined {
  return commentOf(`${method.parent.typeName}.${method.name}`);
}

/** The first sentence of a comment, for an operation's one-line summary. */
function firstSentence(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, " ").trim();
  const end = flat.search(/\.(\s|$)/);
  return end >= 0 ? flat.slice(0, end) : flat;
}

/** Joins the non-empty parts of a description into paragraphs. */
function paragraphs(...parts: Array<string | undefined>): string | undefined {
  const text = parts.filter((p): p is string => p !== undefined && p !== "").join("\n\n");
  return text === "" ? undefined : text;
}

// ---------------------------------------------------------------- field options

function behaviorsOf(field: DescField): readonly FieldBehavior[] {
  return hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
}

function isRequired(field: DescField): boolean {
  return behaviorsOf(field).includes(FieldBehavior.REQUIRED);
}

function isOutputOnly(field: DescField): boolean {
  return behaviorsOf(field).includes(FieldBehavior.OUTPUT_ONLY);
}

function scopeOf(method: DescMethod): string | undefined {
  return hasOption(method, required_scope) ? getOption(method, required_scope) : undefined;
}

// ---------------------------------------------------------------- JSON types

/** The value type of a field, whatever its cardinality (singular, list element or map value). */
type ValueType = { kind: "scalar"; scalar: ScalarType } | { kind: "enum"; desc: DescEnum } | { kind: "message"; desc: DescMessage };

function valueTypeOf(field: DescField): ValueType {
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
function wellKnownSchema(message: DescMessage): Schema | undefined {
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
class Components {
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

// ---------------------------------------------------------------- paths and parameters

/** Resolves a template variable's field path (proto names) in the request message. */
function resolveFieldPath(message: DescMessage, path: readonly string[], template: PathTemplate): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of path) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${template.text}: ${message.typeName} has no field ${path.join(".")}`);
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return fields;
}

function jsonPath(fields: readonly DescField[]): string {
  return fields.map((f) => f.jsonName).join(".");
}

function protoPath(fields: readonly DescField[]): string {
  return fields.map((f) => f.name).join(".");
}

/** The template's text of the parts a variable covers ("*" unless the rule says more, e.g. "models/*"). */
function variablePattern(template: PathTemplate, variable: TemplateVariable): string {
  return template.parts
    .slice(variable.start, variable.end)
    .map((p) => (p.kind === "literal" ? p.value : p.kind))
    .join("/");
}

/** "/v1/workspaces/{workspace_id}/models/{id}:enable" → "/v1/workspaces/{workspaceId}/models/{id}:enable". */
function openApiPath(template: PathTemplate, input: DescMessage): string {
  const segments: string[] = [];
  for (let i = 0; i < template.parts.length; ) {
    const variable = template.variables.find((v) => v.start === i);
    if (variable) {
      segments.push(`{${jsonPath(resolveFieldPath(input, variable.fieldPath, template))}}`);
      i = Math.max(variable.end, i + 1);
      continue;
    }
    const part = template.parts[i]!;
    segments.push(part.kind === "literal" ? part.value : part.kind);
    i++;
  }
  return "/" + segments.join("/") + (template.verb !== undefined ? `:${template.verb}` : "");
}

function pathParameters(binding: HttpBinding, components: Components): Parameter[] {
  const { template, method } = binding;
  return template.variables.map((variable) => {
    const fields = resolveFieldPath(method.input, variable.fieldPath, template);
    const field = fields[fields.length - 1]!;
    const pattern = variablePattern(template, variable);
    const { description, ...schema } = components.fieldSchema(field, true);
    return {
      name: jsonPath(fields),
      in: "path",
      required: true,
      description: paragraphs(description as string | undefined, pattern === "*" ? undefined : `Matches \`${pattern}\`.`),
      schema,
    };
  });
}

/** Field paths (proto names) the path template sets. */
function boundPaths(binding: HttpBinding): Set<string> {
  return new Set(binding.template.variables.map((v) => v.fieldPath.join(".")));
}

/**
 * Query parameters of the request fields that neither the path nor the body
 * set. Message fields are flattened into dotted names ("a.b"); maps, repeated
 * messages and well-known types the transcoder cannot read from a string are
 * left out, as are OUTPUT_ONLY fields, which a request cannot set.
 */
function queryParameters(binding: HttpBinding, components: Components): Parameter[] {
  if (binding.body === "*") return [];
  const bound = boundPaths(binding);
  const out: Parameter[] = [];
  const visit = (message: DescMessage, prefix: DescField[], seen: ReadonlySet<DescMessage>) => {
    for (const field of message.fields) {
      const fields = [...prefix, field];
      if (bound.has(protoPath(fields)) || isOutputOnly(field)) continue;
      if (prefix.length === 0 && field.name === binding.body) continue;
      if (field.fieldKind === "map") continue;
      const type = valueTypeOf(field);
      if (type.kind === "message") {
        if (field.fieldKind === "list") continue;
        if (stringEncodedMessages.has(type.desc.typeName)) out.push(queryParameter(fields, components));
        // A message nested in itself would flatten forever; its first level is enough.
        else if (!wellKnownSchema(type.desc) && !seen.has(type.desc)) visit(type.desc, fields, new Set([...seen, type.desc]));
        continue;
      }
      out.push(queryParameter(fields, components));
    }
  };
  visit(binding.method.input, [], new Set([binding.method.input]));
  return out;
}

function queryParameter(fields: readonly DescField[], components: Components): Parameter {
  const field = fields[fields.length - 1]!;
  const { description, ...schema } = components.fieldSchema(field, true);
  const parameter: Parameter = { name: jsonPath(fields), in: "query" };
  if (description) parameter.description = description;
  // Only a chain of REQUIRED fields makes the parameter itself required.
  if (fields.every(isRequired)) parameter.required = true;
  parameter.schema = schema;
  // Repeated fields are repeated keys: ?capabilities=A&capabilities=B.
  if (field.fieldKind === "list") Object.assign(parameter, { style: "form", explode: true });
  return parameter;
}

// ---------------------------------------------------------------- request and response bodies

/**
 * The request body: with body "*" every field the path does not set (an
 * inline schema, since each binding of a method binds different fields),
 * else the one named field. It is required only if a REQUIRED field is in it.
 */
function requestBody(binding: HttpBinding, components: Components): Schema | undefined {
  const input = binding.method.input;
  if (binding.body === "") return undefined;
  let schema: Schema;
  let required: boolean;
  if (binding.body === "*") {
    const bound = boundPaths(binding);
    const fields = input.fields.filter((f) => !bound.has(f.name));
    const requiredNames = fields.filter(isRequired).map((f) => f.jsonName);
    schema = { type: "object", properties: Object.fromEntries(fields.map((f) => [f.jsonName, components.fieldSchema(f, true)])) };
    const description = commentOf(input.typeName);
    if (description) schema.description = description;
    if (requiredNames.length > 0) schema.required = requiredNames;
    required = requiredNames.length > 0;
  } else {
    const field = input.fields.find((f) => f.name === binding.body);
    if (!field) throw new Error(`${binding.template.text}: body "${binding.body}" is no field of ${input.typeName}`);
    // An HttpBody field takes the raw request body, in whatever content type it declares.
    if (field.fieldKind === "message" && field.message.typeName === httpBodyTypeName) {
      return { required: isRequired(field), content: rawContent(commentOf(`${input.typeName}.${field.name}`)) };
    }
    schema = components.fieldSchema(field, true);
    required = isRequired(field);
  }
  return { required, content: { "application/json": { schema } } };
}

const httpBodyTypeName = "google.api.HttpBody";

/** Raw bytes of any content type: what an HttpBody carries over REST. */
function rawContent(description?: string): Schema {
  return { "*/*": { schema: { type: "string", format: "binary", ...(description ? { description } : {}) } } };
}

function successResponse(binding: HttpBinding, components: Components): Schema {
  const output = binding.method.output;
  if (output.typeName === httpBodyTypeName) {
    // A stream of HttpBody messages is written as one raw body, streamed.
    return { description: commentOf(`${binding.method.parent.typeName}.${binding.method.name}`) ?? "OK", content: rawContent() };
  }
  if (binding.method.methodKind === "server_streaming") return eventStreamResponse(binding, components);
  let schema: Schema;
  if (binding.responseBody === "") {
    schema = components.valueSchema({ kind: "message", desc: output });
  } else {
    const field = output.fields.find((f) => f.name === binding.responseBody);
    if (!field) throw new Error(`${binding.template.text}: response_body "${binding.responseBody}" is no field of ${output.typeName}`);
    schema = components.fieldSchema(field);
  }
  return {
    description: commentOf(output.typeName) ?? "OK",
    content: { "application/json": { schema } },
  };
}

/** Any other server stream is Server-Sent Events (src/wire/rest/sse-stream.ts): one message per event. */
function eventStreamResponse(binding: HttpBinding, components: Components): Schema {
  const output = binding.method.output;
  const resumable = output.fields.some((f) => f.name === "resume_token");
  return {
    description:
      `Server-Sent Events: each event's \`data\` is one ${output.name} as JSON` +
      (resumable ? "; its `id` is the message's resume token, which the `Last-Event-ID` request header resumes from." : ".") +
      " A failure after the stream started is a last event named `error` whose data is a google.rpc.Status.",
    content: {
      "text/event-stream": {
        schema: { type: "string", "x-event-data": components.valueSchema({ kind: "message", desc: output }) },
      },
    },
  };
}

/** The header a reconnecting EventSource sends: it resumes a stream whose request has a resume token. */
function lastEventIdParameter(binding: HttpBinding): Schema[] {
  if (binding.method.methodKind !== "server_streaming" || !binding.method.input.fields.some((f) => f.name === "resume_token")) return [];
  return [
    {
      name: "Last-Event-ID",
      in: "header",
      required: false,
      description: "The id of the last event received: resumes after it, as resumeToken does (resumeToken wins when both are given).",
      schema: { type: "string" },
    },
  ];
}

const statusRef = { $ref: `#/components/schemas/${StatusSchema.typeName}` };

function errorResponse(description: string, headers?: Record<string, Schema>): Schema {
  return { description, ...(headers ? { headers } : {}), content: { "application/json": { schema: statusRef } } };
}

/** The REST error responses (API.md "Errors"): the gRPC code's HTTP status and a google.rpc.Status body. */
function errorResponses(): Record<string, Schema> {
  const noRetry = {
    "x-should-retry": { description: "Always `false`: retrying cannot fix the conflict.", schema: { type: "string", enum: ["false"] } },
  };
  const retryAfter = {
    "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer" } },
    "retry-after-ms": { description: "Milliseconds to wait before retrying.", schema: { type: "integer" } },
  };
  return {
    BadRequest: errorResponse(
      "InvalidArgument (3), FailedPrecondition (9) or OutOfRange (11): the request is wrong; field violations are in a google.rpc.BadRequest detail.",
    ),
    Unauthenticated: errorResponse("Unauthenticated (16): no bearer token, or one that is invalid or expired."),
    PermissionDenied: errorResponse("PermissionDenied (7): the token lacks the required scope, or names another workspace or account."),
    NotFound: errorResponse("NotFound (5): no such resource in the caller's workspace."),
    Conflict: errorResponse("AlreadyExists (6) or Aborted (10, e.g. a stale etag).", noRetry),
    TooManyRequests: errorResponse("ResourceExhausted (8): rate limited; wait as the headers say.", retryAfter),
    Error: errorResponse(
      `Any other error: ${[Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DeadlineExceeded]
        .map((c) => `${Code[c]} ${codeToHttpStatus(c)}${c === Code.Unavailable ? " (with Retry-After)" : ""}`)
        .join(", ")}.`,
    ),
  };
}

/** Each documented error response under the HTTP status of its code, from the one gRPC → HTTP mapping. */
const errorRefs: Readonly<Record<string, Schema>> = {
  ...Object.fromEntries(
    ([
      [Code.InvalidArgument, "BadRequest"],
      [Code.Unauthenticated, "Unauthenticated"],
      [Code.PermissionDenied, "PermissionDenied"],
      [Code.NotFound, "NotFound"],
      [Code.AlreadyExists, "Conflict"],
      [Code.ResourceExhausted, "TooManyRequests"],
    ] as const).map(([code, name]) => [String(codeToHttpStatus(code)), { $ref: `#/components/responses/${name}` }]),
  ),
  default: { $ref: "#/components/responses/Error" },
};

// ---------------------------------------------------------------- operations

/** operationId: the method name for its main rule, then "_1", "_2", … for its additional bindings (in rule order). */
function operationIds(bindings: readonly HttpBinding[]): string[] {
  const seen = new Map<DescMethod, number>();
  return bindings.map((b) => {
    const n = seen.get(b.method) ?? 0;
    seen.set(b.method, n + 1);
    return n === 0 ? b.method.name : `${b.method.name}_${n}`;
  });
}

function operation(binding: HttpBinding, operationId: string, components: Components): Schema {
  const { method } = binding;
  const comment = methodComment(method);
  const scope = scopeOf(method);
  const op: Schema = { operationId, tags: [method.parent.name] };
  if (comment) op.summary = firstSentence(comment);
  const description = paragraphs(comment, scope ? `Requires scope \`${scope}\`.` : undefined);
  if (description) op.description = description;
  const parameters = [...pathParameters(binding, components), ...queryParameters(binding, components), ...lastEventIdParameter(binding)];
  if (parameters.length > 0) op.parameters = parameters;
  const body = requestBody(binding, components);
  if (body) op.requestBody = body;
  op.responses = { "200": successResponse(binding, components), ...errorRefs };
  // OpenAPI 3.1 lets a non-OAuth requirement list roles: the scope the token must carry.
  op.security = [{ bearerAuth: scope ? [scope] : [] }];
  if (method.deprecated) op.deprecated = true;
  return op;
}

function paths(bindings: readonly HttpBinding[], components: Components): Record<string, Record<string, Schema>> {
  const out: Record<string, Record<string, Schema>> = {};
  const ids = operationIds(bindings);
  bindings.forEach((binding, i) => {
    const path = openApiPath(binding.template, binding.method.input);
    const verb = binding.httpMethod.toLowerCase();
    const item = (out[path] ??= {});
    if (item[verb]) throw new Error(`${binding.httpMethod} ${path} is bound twice (${ids[i]} and ${String(item[verb].operationId)})`);
    item[verb] = operation(binding, ids[i]!, components);
  });
  return out;
}

function servicesOf(bindings: readonly HttpBinding[]): DescService[] {
  return [...new Set(bindings.map((b) => b.method.parent))];
}

/** The OpenAPI 3.1.0 document of the REST routes `bindings` (see httpBindings). */
export function openApiDocument(bindings: readonly HttpBinding[], info: { title: string; version: string }): Record<string, unknown> {
  const components = new Components();
  const pathItems = paths(bindings, components);
  components.addMessage(StatusSchema);
  const services = servicesOf(bindings);
  const description = paragraphs(...services.map((s) => commentOf(s.typeName)));
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, ...(description ? { description } : {}) },
    tags: services.map((s) => ({ name: s.name, ...(commentOf(s.typeName) ? { description: commentOf(s.typeName) } : {}) })),
    security: [{ bearerAuth: [] }],
    paths: pathItems,
    components: {
      schemas: components.sorted(),
      responses: errorResponses(),
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}
