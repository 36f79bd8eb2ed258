import type { DescField, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { stringEncodedMessages } from "../../proto/scalar-text.js";
import type { HttpBinding } from "../rest/http-rules.js";
import type { PathTemplate, TemplateVariable } from "../rest/path-template.js";

import {
  type Schema,
  type Parameter,
  commentOf,
  methodComment,
  firstSentence,
  paragraphs,
  isRequired,
  isOutputOnly,
  scopeOf,
  valueTypeOf,
  wellKnownSchema,
  Components,
} from "./openapi-schemas.js";

/**
 * The OpenAPI 3.1 document of the REST surface, written from the descriptors:
 * routes from the google.api.http rules, schemas from the messages in the
 * proto3 canonical JSON mapping, texts from the proto comments. Nothing about
 * a route or a field is restated here, so the document cannot drift from the
 * proto.
 */

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
