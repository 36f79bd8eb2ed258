import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { docsPage } from "../src/wire/openapi/docs-page.js";
import { httpBindings, type HttpBinding } from "../src/wire/rest/http-rules.js";
import { startTestService, type TestService } from "./support/service.js";

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; schema: Json }>;
  requestBody?: { required: boolean; content: Record<string, { schema: Json }> };
  responses: Record<string, Json>;
}
type Document = Json & {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; responses: Record<string, { content: Record<string, { schema: Json }> }> };
};

const ws = "ws_openapi";
const bindings = httpBindings([ModelService]);
let service: TestService;
let token: string;
let doc: Document;
let modelId: string;

function get(path: string, auth = true): Promise<Response> {
  return fetch(service.url + path, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
}

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  const res = await get("/openapi.json", false);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  doc = (await res.json()) as Document;
  // A model priced for input and output, so EstimateCost's probe usage is priced.
  const priced = encodeURIComponent("spec.pricing.base.inputUsdPerMtok > 0 AND spec.pricing.base.outputUsdPerMtok > 0");
  const list = (await (await get(`/v1/models?limit=1&filter=${priced}`)).json()) as { items: Array<{ metadata: { id: string } }> };
  modelId = list.items[0]!.metadata.id;
});
afterAll(() => service.dispose());

// ---------------------------------------------------------------- helpers

/** The OpenAPI path of a binding, worked out here from the descriptors rather than by the generator's code. */
function expectedPath(binding: HttpBinding): string {
  return binding.template.text.replace(/\{([^}=]+)(=[^}]*)?\}/g, (_m, path: string) => {
    let message: DescMessage | undefined = binding.method.input;
    const names = path.split(".").map((name) => {
      const field: DescField = message!.fields.find((f) => f.name === name)!;
      message = field.fieldKind === "message" ? field.message : undefined;
      return field.jsonName;
    });
    return `{${names.join(".")}}`;
  });
}

/** The real URL of an OpenAPI path in this test's workspace. */
function concretePath(path: string, id = modelId): string {
  const values: Record<string, string> = { workspaceId: ws, id, bundleKey: "openapi-bundle" };
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no test value for path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

/**
 * A copy of the document's schemas with every object closed
 * (`additionalProperties: false`). The document leaves them open so clients
 * tolerate fields added later; here a field the server writes but the
 * document does not describe (or names differently) must fail.
 */
function closed<T>(node: T): T {
  if (Array.isArray(node)) return node.map(closed) as T;
  if (typeof node !== "object" || node === null) return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, closed(v)])) as Json;
  if ("properties" in out && !("additionalProperties" in out)) out.additionalProperties = false;
  return out as T;
}

/**
 * Ajv (JSON Schema 2020-12, OpenAPI 3.1's dialect) for one schema of the
 * document, with the document's components beside it so its
 * "#/components/schemas/…" references resolve.
 */
function compile(schema: Json): ValidateFunction {
  // Not strict: "components" is no JSON Schema keyword, and OpenAPI adds formats of its own.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  formats.default(ajv);
  // Protobuf formats ajv-formats does not know; "type" and "pattern" carry their checks.
  for (const format of ["int64", "uint64", "uint32"]) ajv.addFormat(format, true);
  return ajv.compile({ ...closed(schema), components: { schemas: closed(doc.components.schemas) } });
}

function expectValid(validate: ValidateFunction, value: unknown, what: string): void {
  const ok = validate(value);
  expect(ok, `${what}: ${JSON.stringify(validate.errors, null, 2)}`).toBe(true);
}

function operationOf(binding: HttpBinding): Operation {
  return doc.paths[expectedPath(binding)]![binding.httpMethod.toLowerCase()]!;
}

// ---------------------------------------------------------------- the document

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.valid, JSON.stringify(result.errors, null, 2)).toBe(true);
  });

  it("has only valid JSON Schema 2020-12 schemas", () => {
    // The OpenAPI meta-schema leaves Schema Objects to the JSON Schema dialect, so check each against it.
    const ajv = new Ajv2020({ strict: false });
    const schemas: Json[] = Object.values(doc.components.schemas);
    const collect = (node: unknown): void => {
      if (typeof node !== "object" || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === "schema") schemas.push(value as Json);
        else collect(value);
      }
    };
    collect(doc.paths);
    collect(doc.components.responses);
    expect(schemas.length).toBeGreaterThan(10);
    for (const schema of schemas) expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
  });

  it("lists every REST route with its method and a unique operationId", () => {
    expect(bindings.length).toBeGreaterThan(0);
    const documented = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(documented).toBe(bindings.length);
    const ids = new Set<string>();
    for (const binding of bindings) {
      const path = expectedPath(binding);
      expect(doc.paths, path).toHaveProperty([path, binding.httpMethod.toLowerCase()]);
      const op = operationOf(binding);
      expect(op.operationId.split("_")[0]).toBe(binding.method.name);
      ids.add(op.operationId);
      expect(op.responses).toHaveProperty("200");
      expect(op.responses).toHaveProperty("default");
    }
    expect(ids.size).toBe(bindings.length);
  });

  it("keeps the proto3 JSON mapping: int64 as strings, enums by name, camelCase", () => {
    const spec = doc.components.schemas["modelservice.v1.ModelSpec"] as { properties: Record<string, Json> };
    expect(spec.properties.inputPricePerMillionTokens).toMatchObject({ type: "string", format: "int64" });
    expect(spec.properties.maxInputTokens).toMatchObject({ type: "integer", format: "int32" });
    expect(doc.components.schemas["modelservice.v1.ModelStatus"]).toMatchObject({
      type: "string",
      enum: ["MODEL_STATUS_UNSPECIFIED", "MODEL_STATUS_ENABLED", "MODEL_STATUS_DISABLED"],
    });
    const metadata = doc.components.schemas["modelservice.v1.ResourceMetadata"] as { properties: Record<string, Json> };
    expect(metadata.properties.createdAt).toMatchObject({ type: "string", format: "date-time", readOnly: true });
    expect(doc.components.schemas["google.rpc.Status"]).toMatchObject({
      properties: { code: { type: "integer" }, message: { type: "string" }, details: { type: "array" } },
    });
  });
});

// ---------------------------------------------------------------- real responses against the document

/** Request bodies the write routes need; every other route is called with none (GET) or "{}". */
const customModel = { metadata: { name: "OpenAPI probe" }, spec: { provider: "acme", family: "probe-1", modelUrl: "https://api.example.com/v1" } };

async function post(path: string, body: Json): Promise<Json> {
  const res = await fetch(service.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Json;
}

/** A model in the state each RPC needs (a fresh custom model to delete, a deleted one to undelete, …), and the body to send. */
/** The data of the first Server-Sent Event of a response, as JSON; the stream is then closed. */
async function firstEventData(res: Response): Promise<Json> {
  const reader = res.body!.getReader();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  const data = text.split("\n\n")[0]!.split("\n").find((line) => line.startsWith("data: "))!;
  return JSON.parse(data.slice("data: ".length)) as Json;
}

async function target(method: string, path: string): Promise<{ id: string; body?: Json; raw?: string }> {
  const idOf = (m: Json) => (m.metadata as { id: string }).id;
  switch (method) {
    case "SetModelStatus":
      return { id: modelId, body: { status: "MODEL_STATUS_ENABLED" } };
    case "CreateModel":
      return { id: modelId, body: customModel };
    case "CreateSystemModel":
      return { id: modelId, body: { ...customModel, spec: { ...customModel.spec, visible: false } } };
    case "UpdateModel":
    case "DeleteModel":
    case "RotateModelCredentials": {
      const id = idOf(await post("/v1/models", customModel));
      const body = method === "UpdateModel" ? { metadata: { name: "renamed" } } : method === "RotateModelCredentials" ? { credentials: { token: "t0ken" } } : undefined;
      return { id, body };
    }
    case "UndeleteModel": {
      const id = idOf(await post("/v1/models", customModel));
      await fetch(`${service.url}/v1/models/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
      return { id, body: {} };
    }
    case "GetSystemModel":
    case "UpdateSystemModel":
    case "DeleteSystemModel": {
      const id = idOf(await post("/v1/system/models", { ...customModel, spec: { ...customModel.spec, visible: false } }));
      return { id, body: method === "UpdateSystemModel" ? { metadata: { name: "renamed" } } : undefined };
    }
    case "ImportModels":
      return { id: modelId, raw: "name,provider,family\nImported probe,acme,probe-2\n" };
    case "BatchCreateModels":
      return { id: modelId, body: { requests: [{ model: customModel }] } };
    case "BatchUpdateModels":
    case "BatchDeleteModels": {
      const id = idOf(await post("/v1/models", customModel));
      return { id, body: method === "BatchDeleteModels" ? { ids: [id] } : { requests: [{ id, model: { metadata: { name: "renamed" } } }] } };
    }
    case "EstimateCost":
      // The route without {id} names the model in the body.
      return { id: modelId, body: { ...(path.includes("{id}") ? {} : { id: modelId }), usage: { inputTokens: "1000", outputTokens: "10" } } };
    case "BatchEstimateCost":
      return { id: modelId, body: { requests: [{ id: modelId, usage: { inputTokens: "1000" } }] } };
    case "ApplyBundle":
      return { id: modelId, body: { models: [{ metadata: { name: "Bundled", externalId: "openapi-bundled" }, spec: { provider: "acme" } }] } };
    case "UpdateModelDraft":
    case "PublishModelDraft":
    case "DeleteModelDraft": {
      const draft = await post("/v1/drafts", { model: { metadata: { name: "Draft probe" } } });
      const body = method === "UpdateModelDraft" ? { expectedVersion: 1, model: { metadata: { name: "Draft renamed" } } } : method === "PublishModelDraft" ? {} : undefined;
      return { id: draft.id as string, body };
    }
    default:
      return { id: modelId, body: {} };
  }
}

describe("every route's real response matches the document", () => {
  it.each(bindings.map((b) => [`${b.httpMethod} ${b.template.text}`, b] as const))("%s", async (_name, binding) => {
    const op = operationOf(binding);
    const { id, body: given, raw } = await target(binding.method.name, binding.template.text);
    const url = concretePath(expectedPath(binding), id);
    const body = binding.body === "" ? undefined : given;
    if (body !== undefined && raw === undefined) {
      // The body we send must itself fit the document.
      expectValid(compile(op.requestBody!.content["application/json"]!.schema), body, "request body");
    }
    const contentType = raw !== undefined ? "text/csv" : body ? "application/json" : undefined;
    const res = await fetch(service.url + url, {
      method: binding.httpMethod,
      headers: { authorization: `Bearer ${token}`, ...(contentType ? { "content-type": contentType } : {}) },
      body: raw ?? (body ? JSON.stringify(body) : undefined),
    });
    const content = (op.responses["200"] as { content: Record<string, { schema: Json }> }).content;
    if (content["text/event-stream"]) {
      // An event stream never ends by itself: its first event's data must fit the documented message.
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const first = await firstEventData(res);
      expectValid(compile(content["text/event-stream"].schema["x-event-data"] as Json), first, `${binding.httpMethod} ${url}`);
      return;
    }
    const text = await res.text();
    expect(res.status, text).toBe(200);
    if (content["application/json"]) {
      expectValid(compile(content["application/json"].schema), JSON.parse(text), `${binding.httpMethod} ${url}`);
    } else {
      // Raw bodies (HttpBody): any content type, documented as binary.
      expect(Object.keys(content)).toEqual(["*/*"]);
      expect(text.length).toBeGreaterThan(0);
    }
  });

  it("every documented query parameter is accepted by the server", async () => {
    const sample = (schema: Json): string => {
      const resolved = typeof schema.$ref === "string" ? doc.components.schemas[schema.$ref.split("/").pop()!]! : schema;
      if (Array.isArray(resolved.enum)) return String(resolved.enum[0]);
      return resolved.type === "integer" ? "1" : resolved.type === "boolean" ? "true" : "";
    };
    for (const binding of bindings.filter((b) => b.httpMethod === "GET")) {
      const op = operationOf(binding);
      for (const p of (op.parameters ?? []).filter((q) => q.in === "query")) {
        const url = `${concretePath(expectedPath(binding))}?${new URLSearchParams({ [p.name]: sample(p.schema) })}`;
        const res = await get(url);
        const eventStream = res.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
        expect(res.status, `${url}: ${eventStream ? (await res.body?.cancel(), "") : await res.text()}`).toBe(200);
      }
    }
  });

  it.each([
    ["400", "/v1/models?limit=-1", true],
    ["401", "/v1/models", false],
    ["404", "/v1/models/model_01HXK0000000000000000000ZZ", true],
  ] as const)("a %s error body matches google.rpc.Status", async (status, path, auth) => {
    const res = await get(path, auth);
    expect(res.status).toBe(Number(status));
    const name = { "400": "BadRequest", "401": "Unauthenticated", "404": "NotFound" }[status];
    const schema = doc.components.responses[name]!.content["application/json"]!.schema;
    expectValid(compile(schema), await res.json(), `${status} ${path}`);
  });
});

// ---------------------------------------------------------------- the reference page

describe("GET /docs", () => {
  it("is a self-contained page: only local assets, each served with its type", async () => {
    const res = await get("/docs", false);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith("data:"));
    expect(refs).toEqual(expect.arrayContaining(["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui-standalone-preset.js"]));
    for (const ref of refs) {
      expect(ref).toMatch(/^\/docs\//);
      const asset = await get(ref, false);
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get("content-type"), ref).toMatch(/^(text\/javascript|application\/javascript|text\/css)\b/);
      const text = await asset.text();
      if (ref === "/docs/init.js") {
        expect(text).toContain('url: "/openapi.json"');
        expect(text).not.toMatch(/https?:\/\//);
      }
    }
  });

  it("serves nothing outside its allow-list", async () => {
    for (const path of ["/docs/package.json", "/docs/swagger-ui-bundle.js.map", "/docs/../package.json", "/docs/%2e%2e/package.json"]) {
      expect((await get(path, false)).status, path).toBe(404);
    }
    const answer = docsPage();
    const untouched = {} as ServerResponse;
    expect(answer("/docs/index.html", untouched)).toBe(false);
    expect(answer("/docsx", untouched)).toBe(false);
    expect(answer("/openapi.json", untouched)).toBe(false);
  });
});
