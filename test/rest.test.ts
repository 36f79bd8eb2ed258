import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { httpBindings } from "../src/wire/rest/http-rules.js";
import { restError } from "../src/wire/rest/status-json.js";
import { httpStatusOf } from "./support/expect-code.js";
import type { StatusJson } from "./support/rest.js";
import { startTestService, type TestService } from "./support/service.js";

interface ModelJson {
  metadata: { id: string; workspaceId: string; name: string; createdAt: string };
  spec: { status: string; inputPricePerMillionTokens?: string; maxInputTokens?: number; provider: string };
}
interface ListJson {
  items: ModelJson[];
  pagination: { nextCursor?: string; total: number };
}
const ws = "ws_rest";
let service: TestService;
let token: string;
let ids: string[];

async function rest(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(service.url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  service = await startTestService({ MODELSERVICE_MAX_BODY_BYTES: "2048" });
  token = await service.token(ws);
  ids = (await json<ListJson>(await rest("GET", "/v1/models?limit=1000"))).items.map((m) => m.metadata.id);
});
afterAll(() => service.dispose());

describe.each([
  ["token-scoped", ""],
  ["workspace-scoped", `/v1/workspaces/${ws}`],
])("the Cadenya routes, %s", (_name, prefix) => {
  const base = prefix === "" ? "/v1" : prefix;

  it("GET …/models lists with pagination and proto3 JSON", async () => {
    const page = await json<ListJson>(await rest("GET", `${base}/models?limit=2`));
    expect(page.items).toHaveLength(2);
    expect(page.pagination.total).toBe(ids.length);
    expect(page.pagination.nextCursor).toBeTruthy();
    const model = page.items[0]!;
    expect(model.metadata.workspaceId).toBe(ws);
    expect(model.metadata.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // Catalog models the price data gives no input price for leave it unset; a priced one carries it as a decimal string.
    expect(["string", "undefined"]).toContain(typeof model.spec.inputPricePerMillionTokens);
    const priced = await json<ListJson>(await rest("GET", `${base}/models?limit=1&filter=${encodeURIComponent("spec.inputPricePerMillionTokens > 0")}`));
    expect(priced.items[0]!.spec.inputPricePerMillionTokens).toMatch(/^\d+$/);
    // Catalog models the price data gives no context window for leave it unset.
    expect(["number", "undefined"]).toContain(typeof model.spec.maxInputTokens);
    expect(model.spec.status).toBe("MODEL_STATUS_ENABLED");
    const next = await json<ListJson>(await rest("GET", `${base}/models?limit=2&cursor=${encodeURIComponent(page.pagination.nextCursor!)}`));
    expect(next.items.map((m) => m.metadata.id)).toEqual(ids.slice(2, 4));
  });

  it.each([
    ["sortOrder=desc", "sort_order=desc"],
    ["bundleKey=none", "bundle_key=none"],
  ])("accepts camelCase and snake_case query names (%s / %s)", async (camel, snake) => {
    const a = await json<ListJson>(await rest("GET", `${base}/models?${camel}`));
    const b = await json<ListJson>(await rest("GET", `${base}/models?${snake}`));
    expect(a).toEqual(b);
  });

  it("applies every list filter", async () => {
    const desc = await json<ListJson>(await rest("GET", `${base}/models?sortOrder=desc&limit=1`));
    expect(desc.items[0]!.metadata.id).toBe(ids[ids.length - 1]);
    const claude = await json<ListJson>(await rest("GET", `${base}/models?query=claude`));
    expect(claude.items.length).toBeGreaterThan(0);
    expect(claude.items.every((m) => m.metadata.name.toLowerCase().includes("claude"))).toBe(true);
    const prefixed = await json<ListJson>(await rest("GET", `${base}/models?prefix=${encodeURIComponent(claude.items[0]!.metadata.name.slice(0, 6).toLowerCase())}`));
    expect(prefixed.items.some((m) => m.metadata.id === claude.items[0]!.metadata.id)).toBe(true);
    expect((await json<ListJson>(await rest("GET", `${base}/models?status=MODEL_STATUS_DISABLED`))).pagination.total).toBe(0);
    expect((await json<ListJson>(await rest("GET", `${base}/models?bundleKey=nothing-owns-this`))).items).toEqual([]);
    expect((await json<ListJson>(await rest("GET", `${base}/models?labels=${encodeURIComponent("env=prod,team=ai")}`))).pagination.total).toBe(0);
  });

  it("GET …/models/{id} returns the model itself", async () => {
    const model = await json<ModelJson>(await rest("GET", `${base}/models/${ids[3]}`));
    expect(model.metadata.id).toBe(ids[3]);
  });

  it("PUT …/models/{id}/status sets the status", async () => {
    const id = ids[4]!;
    const disabled = await json<ModelJson>(await rest("PUT", `${base}/models/${id}/status`, { status: "MODEL_STATUS_DISABLED" }));
    expect(disabled.spec.status).toBe("MODEL_STATUS_DISABLED");
    const listed = await json<ListJson>(await rest("GET", `${base}/models?status=MODEL_STATUS_DISABLED`));
    expect(listed.items.map((m) => m.metadata.id)).toEqual([id]);
    const enabled = await json<ModelJson>(await rest("PUT", `${base}/models/${id}/status`, { status: "MODEL_STATUS_ENABLED" }));
    expect(enabled.spec.status).toBe("MODEL_STATUS_ENABLED");
  });

  it("POST …/models/{id}:disable and :enable take an empty body or {}", async () => {
    const id = ids[5]!;
    expect((await json<ModelJson>(await rest("POST", `${base}/models/${id}:disable`))).spec.status).toBe("MODEL_STATUS_DISABLED");
    expect((await json<ModelJson>(await rest("POST", `${base}/models/${id}:enable`, {}))).spec.status).toBe("MODEL_STATUS_ENABLED");
  });
});

describe("routes come from the descriptors", () => {
  it("every google.api.http binding reaches its RPC", async () => {
    const bindings = httpBindings([ModelService]);
    expect(bindings.length).toBeGreaterThanOrEqual(10);
    for (const b of bindings) {
      const path = b.template.text.replace("{workspace_id}", ws).replace("{id}", ids[6]!);
      const res = await rest(b.httpMethod, path, b.body === "" ? undefined : {});
      // An event stream (WatchModels) never ends by itself: its status and headers say the route resolved.
      const isEventStream = res.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
      const text = isEventStream ? (await res.body?.cancel(), "") : await res.text();
      const isJson = res.headers.get("content-type")?.startsWith("application/json") ?? false;
      const body = (isJson ? JSON.parse(text) : {}) as StatusJson | ModelJson;
      // Whatever the RPC answers (its own NotFound or InvalidArgument included), the route itself resolved.
      expect(res.status, `${b.httpMethod} ${path}`).not.toBe(405);
      expect("message" in body ? body.message : "", `${b.httpMethod} ${path}`).not.toMatch(/^no route/);
    }
  });
});

describe("errors", () => {
  it.each([
    ["no token", () => fetch(`${service.url}/v1/models`), 401, Code.Unauthenticated],
    ["another workspace", () => rest("GET", "/v1/workspaces/ws_other/models"), 403, Code.PermissionDenied],
    ["unknown model", () => rest("GET", "/v1/models/model_01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, Code.NotFound],
    ["negative limit", () => rest("GET", "/v1/models?limit=-1"), 400, Code.InvalidArgument],
    ["limit not an integer", () => rest("GET", "/v1/models?limit=abc"), 400, Code.InvalidArgument],
    ["unknown sortOrder", () => rest("GET", "/v1/models?sortOrder=sideways"), 400, Code.InvalidArgument],
    ["malformed labels", () => rest("GET", "/v1/models?labels=env"), 400, Code.InvalidArgument],
    ["unknown enum name", () => rest("GET", "/v1/models?status=MODEL_STATUS_SLEEPING"), 400, Code.InvalidArgument],
    ["unknown query parameter", () => rest("GET", "/v1/models?colour=red"), 400, Code.InvalidArgument],
    ["status UNSPECIFIED", () => rest("PUT", `/v1/models/${ids[0]}/status`, { status: "MODEL_STATUS_UNSPECIFIED" }), 400, Code.InvalidArgument],
    ["body of the wrong shape", () => rest("PUT", `/v1/models/${ids[0]}/status`, { status: 3.5 }), 400, Code.InvalidArgument],
    ["body not JSON", () => rest("PUT", `/v1/models/${ids[0]}/status`, "{status:"), 400, Code.InvalidArgument],
    ["body an array", () => rest("PUT", `/v1/models/${ids[0]}/status`, "[]"), 400, Code.InvalidArgument],
  ] as const)("%s → HTTP %d with google.rpc.Status", async (_name, call, status, code) => {
    const body = await json<StatusJson>(await call(), status);
    expect(body.code).toBe(code);
    expect(body.message).toBeTruthy();
  });

  it("names the bad field in BadRequest details with @type", async () => {
    const body = await json<StatusJson>(await rest("GET", "/v1/models?limit=abc"), 400);
    expect(body.details?.[0]?.["@type"]).toBe("type.googleapis.com/google.rpc.BadRequest");
    expect(body.details?.[0]?.fieldViolations?.map((v) => v.field)).toEqual(["limit"]);
    const shape = await json<StatusJson>(await rest("PUT", `/v1/models/${ids[0]}/status`, { status: 3.5 }), 400);
    expect(shape.details?.[0]?.fieldViolations?.map((v) => v.field)).toEqual(["status"]);
    const enumName = await json<StatusJson>(await rest("GET", "/v1/models?status=MODEL_STATUS_SLEEPING"), 400);
    expect(enumName.details?.[0]?.fieldViolations?.map((v) => v.field)).toEqual(["status"]);
    const unknown = await json<StatusJson>(await rest("PUT", `/v1/models/${ids[0]}/status`, { status: "MODEL_STATUS_ENABLED", colour: "red" }), 400);
    expect(unknown.details?.[0]?.fieldViolations?.map((v) => v.field)).toEqual(["colour"]);
  });

  it("unknown path is 404", async () => {
    const res = await rest("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(((await res.json()) as StatusJson).code).toBe(Code.NotFound);
  });

  it("known path with the wrong method is 405 with Allow", async () => {
    const res = await rest("PUT", `/v1/models/${ids[0]}`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, PATCH, DELETE");
    const verb = await rest("GET", `/v1/models/${ids[0]}:enable`);
    expect(verb.status).toBe(405);
    expect(verb.headers.get("allow")).toBe("POST");
  });

  it("unsupported content type is 415", async () => {
    const res = await rest("PUT", `/v1/models/${ids[0]}/status`, "status=MODEL_STATUS_DISABLED", { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(415);
  });

  it("a body over MODELSERVICE_MAX_BODY_BYTES is 413", async () => {
    const res = await rest("PUT", `/v1/models/${ids[0]}/status`, { status: "MODEL_STATUS_DISABLED", pad: "x".repeat(4096) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as StatusJson).code).toBe(Code.ResourceExhausted);
  });

  it("maps every code to its HTTP status and retry advice", () => {
    for (const [code, status] of Object.entries(httpStatusOf).map(([c, s]) => [Number(c) as Code, s] as const)) {
      const rendered = restError(new ConnectError("m", code));
      expect(rendered.status, Code[code]).toBe(status);
      expect(JSON.parse(rendered.body)).toEqual({ code, message: "m" });
      const noRetry = status === 409 || code === Code.FailedPrecondition;
      expect(rendered.headers["x-should-retry"]).toBe(noRetry ? "false" : undefined);
      const retryAfter = status === 429 || status === 503;
      expect(rendered.headers["retry-after"]).toBe(retryAfter ? "1" : undefined);
      expect(rendered.headers["retry-after-ms"]).toBe(retryAfter ? "1000" : undefined);
    }
  });
});

describe("HTTP details", () => {
  it("reads a body sent over HTTP/2 without content-length", async () => {
    const { connect } = await import("node:http2");
    const session = connect(service.url);
    const stream = session.request({
      ":method": "PUT",
      ":path": `/v1/models/${ids[8]}/status`,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    });
    stream.end(JSON.stringify({ status: "MODEL_STATUS_DISABLED" }));
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    const status = await new Promise<number>((resolve) => stream.on("response", (h) => resolve(Number(h[":status"]))));
    await new Promise((resolve) => stream.on("end", resolve));
    session.close();
    expect(status).toBe(200);
    expect((JSON.parse(Buffer.concat(chunks).toString()) as ModelJson).spec.status).toBe("MODEL_STATUS_DISABLED");
  });

  it("answers HEAD like GET without a body", async () => {
    const res = await rest("HEAD", `/v1/models/${ids[0]}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBeTruthy();
    expect(await res.text()).toBe("");
  });

  it("writes empty lists and the last page's cursor explicitly", async () => {
    const empty = await json<ListJson>(await rest("GET", "/v1/models?query=no-such-model-anywhere"));
    expect(empty).toEqual({ items: [], pagination: { nextCursor: "", total: 0 }, facets: [] });
  });
});

describe("caching", () => {
  it("answers If-None-Match with 304 for an unchanged model and 200 after a change", async () => {
    const first = await rest("GET", `/v1/models/${ids[7]}`);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    const again = await rest("GET", `/v1/models/${ids[7]}`, undefined, { "if-none-match": etag });
    expect(again.status).toBe(304);
    await rest("POST", `/v1/models/${ids[7]}:disable`);
    const changed = await rest("GET", `/v1/models/${ids[7]}`, undefined, { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
  });
});
