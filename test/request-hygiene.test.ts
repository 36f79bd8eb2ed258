import { randomFillSync } from "node:crypto";
import { connect as http2Connect } from "node:http2";
import { create, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateModelRequestSchema, ListModelsRequestSchema } from "../gen/modelservice/v1/model_service_pb.js";
import { startServerProcess, type ServerProcess } from "./support/server-process.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue #14, items 1, 8 and 9, over the wire: a request's unknown fields
 * never grow memory (binary requests drop them, the read cache keys on known
 * fields and is bounded by bytes), JSON requests refuse unknown fields and
 * enum names on every protocol with InvalidArgument naming the field, and a
 * Connect GET whose message is not base64 is InvalidArgument, not Internal.
 */

const rpc = "/modelservice.v1.ModelService";
const ws = "ws_hygiene";

/** A binary message with an unknown length-delimited field 1000 appended (protobuf merges fields in any order). */
function withUnknownField(schema: DescMessage, message: Record<string, unknown>, payload: Uint8Array): Uint8Array {
  const known = toBinary(schema, create(schema, message as never));
  const unknown = new BinaryWriter().tag(1000, WireType.LengthDelimited).bytes(payload).finish();
  return Buffer.concat([known, unknown]);
}

function envelope(data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(5 + data.byteLength);
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: () => Record<string, unknown>;
}

async function post(url: string, bearer: string, method: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${url}${rpc}/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, ...headers },
    body,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString("utf8")) as Record<string, unknown> };
}

/** The numeric value of a gauge in the Prometheus text of /metrics. */
async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

// ---------------------------------------------------------------- item 1: memory

describe("item 1: a request's unknown fields never grow memory", () => {
  let server: ServerProcess | undefined;

  afterAll(() => server?.dispose());

  it("a server capped at 160 MB survives 60 ListModels with 4 MB unknown fields and still answers", async () => {
    // Run from source through tsx, as test/durability.test.ts does, with the heap cap of the benchmark.
    server = await startServerProcess({ nodeArgs: ["--max-old-space-size=160"] });
    const { url, proc: child } = server;
    const output = server.output;
    const bearer = await server.token(ws);
    const payload = Buffer.alloc(4_000_000);
    for (let i = 0; i < 60; i++) {
      randomFillSync(payload, 0, 4096); // distinct contents every time
      const body = withUnknownField(ListModelsRequestSchema, { limit: 10 }, payload);
      const answer = await post(url, bearer, "ListModels", body, { "content-type": "application/proto" }).catch((e: unknown) => {
        throw new Error(`request ${i} failed (${String(e)}); server output: ${output().slice(-2000)}`);
      });
      expect(answer.status, `request ${i}: ${answer.bytes.toString("utf8").slice(0, 200)}`).toBe(200);
    }
    expect(child.exitCode, output()).toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const list = await post(url, bearer, "ListModels", JSON.stringify({ limit: 1 }), { "content-type": "application/json" });
    expect(list.status).toBe(200);
    expect((list.json().items as unknown[]).length).toBe(1);
  }, 240_000);
});

describe("item 1: the read cache keys on known fields and stays under its byte bound", () => {
  const bound = 256 * 1024;
  let service: TestService;
  let bearer: string;

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_READ_CACHE_BYTES: String(bound) });
    bearer = await service.token(ws);
  });
  afterAll(() => service.dispose());

  it("one entry for one request whatever its unknown fields, and never more bytes than the bound", async () => {
    const payload = Buffer.alloc(1_000_000);
    for (let i = 0; i < 20; i++) {
      randomFillSync(payload, 0, 4096);
      const body = withUnknownField(ListModelsRequestSchema, { limit: 5 }, payload);
      const answer = await post(service.url, bearer, "ListModels", body, { "content-type": "application/proto" });
      expect(answer.status).toBe(200);
    }
    expect(await gauge(service.url, "modelservice_read_cache_entries")).toBe(1);
    expect(await gauge(service.url, "modelservice_read_cache_bytes")).toBeLessThanOrEqual(bound);

    // Many distinct requests: the least recently used go, the bytes stay under the bound.
    for (let limit = 1; limit <= 60; limit++) {
      const answer = await post(service.url, bearer, "ListModels", JSON.stringify({ limit }), { "content-type": "application/json" });
      expect(answer.status).toBe(200);
    }
    const bytes = await gauge(service.url, "modelservice_read_cache_bytes");
    expect(bytes).toBeGreaterThan(bound / 2);
    expect(bytes).toBeLessThanOrEqual(bound);
    expect(await gauge(service.url, "modelservice_read_cache_entries")).toBeLessThan(60);
  });
});

// ---------------------------------------------------------------- items 8 and 9: JSON and Connect GET

describe("items 8 and 9: bad JSON fields and enum names are InvalidArgument naming the field, on every protocol", () => {
  let service: TestService;
  let bearer: string;
  const secretValue = "sk-HYGIENE-SECRET-0123456789";

  beforeAll(async () => {
    service = await startTestService();
    bearer = await service.token(ws);
  });
  afterAll(() => service.dispose());

  const model = (spec: Record<string, unknown>, name: string) => ({
    model: { metadata: { name }, spec: { modelUrl: "https://api.example.com/v1", ...spec } },
  });

  async function connectJson(method: string, body: unknown): Promise<Answer> {
    return post(service.url, bearer, method, JSON.stringify(body), { "content-type": "application/json" });
  }

  async function countNamed(name: string): Promise<number> {
    const answer = await connectJson("ListModels", { prefix: name, limit: 100 });
    expect(answer.status).toBe(200);
    return (answer.json().items as unknown[]).length;
  }

  function expectInvalid(answer: Answer, field: string): void {
    const text = answer.bytes.toString("utf8");
    expect(answer.status, text.slice(0, 300)).toBe(400);
    const body = answer.json() as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toContain(`${field}:`);
    expect(text).not.toContain(secretValue);
  }

  it("Connect JSON CreateModel with a misspelt status creates nothing", async () => {
    const answer = await connectJson("CreateModel", model({ status: "MODEL_STATUS_DISABLD" }, "hygiene-enum"));
    expectInvalid(answer, "model.spec.status");
    expect(answer.json().message).toContain("MODEL_STATUS_DISABLED");
    expect(await countNamed("hygiene-enum")).toBe(0);
  });

  it("Connect JSON ListModels with a misspelt status is refused, not answered with everything", async () => {
    expectInvalid(await connectJson("ListModels", { status: "MODEL_STATUS_ENABLE" }), "status");
  });

  it("Connect JSON CreateModel with an unknown credentials field is refused without quoting any value", async () => {
    const answer = await connectJson("CreateModel", model({ credentials: { tokn: secretValue } }, "hygiene-tokn"));
    expectInvalid(answer, "model.spec.credentials.tokn");
    expect(await countNamed("hygiene-tokn")).toBe(0);
  });

  it("a credentials field of the wrong type is refused without quoting the value", async () => {
    expectInvalid(await connectJson("CreateModel", model({ credentials: secretValue }, "hygiene-creds")), "model.spec.credentials");
    expectInvalid(await connectJson("CreateModel", model({ credentials: { token: [secretValue] } }, "hygiene-creds")), "model.spec.credentials.token");
  });

  it("a bad enum name inside a list is named with its index", async () => {
    const requests = [model({}, "hygiene-batch-a"), model({ status: "MODEL_STATUS_DISABLD" }, "hygiene-batch-b")];
    expectInvalid(await connectJson("BatchCreateModels", { requests }), "requests[1].model.spec.status");
    expect(await countNamed("hygiene-batch")).toBe(0);
  });

  it("REST names a credentials field of the wrong type without quoting the value", async () => {
    const res = await fetch(`${service.url}/v1/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify(model({ credentials: secretValue }, "hygiene-rest").model),
    });
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(text).toContain("model.spec.credentials");
    expect(text).not.toContain(secretValue);
  });

  it("Connect GET with JSON: unknown fields and enum names are refused", async () => {
    const get = async (message: string) => {
      const query = new URLSearchParams({ connect: "v1", encoding: "json", message });
      const res = await fetch(`${service.url}${rpc}/ListModels?${query}`, { headers: { authorization: `Bearer ${bearer}` } });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString("utf8")) as Record<string, unknown> };
    };
    expectInvalid(await get(JSON.stringify({ status: "MODEL_STATUS_DISABLD" })), "status");
    expectInvalid(await get(JSON.stringify({ limitt: 1 })), "limitt");
    expect((await get(JSON.stringify({ limit: 1 }))).status).toBe(200);
  });

  it("Connect streaming with JSON (ExportModels): the end-stream error names the field", async () => {
    const body = envelope(Buffer.from(JSON.stringify({ status: "MODEL_STATUS_DISABLD" })));
    const answer = await post(service.url, bearer, "ExportModels", body, { "content-type": "application/connect+json" });
    const text = answer.bytes.toString("utf8");
    expect(text).toContain('"code":"invalid_argument"');
    expect(text).toContain("status:");
  });

  it("gRPC-Web with JSON: grpc-status 3 naming the field", async () => {
    const body = envelope(Buffer.from(JSON.stringify({ status: "MODEL_STATUS_DISABLD" })));
    const answer = await post(service.url, bearer, "ListModels", body, { "content-type": "application/grpc-web+json" });
    // The trailer frame is the last envelope: flag 0x80, then "grpc-status: 3\r\ngrpc-message: …".
    const trailer = answer.bytes.subarray(answer.bytes.lastIndexOf(0x80) + 5).toString("utf8");
    expect(trailer).toMatch(/grpc-status: ?3/);
    expect(decodeURIComponent(trailer)).toContain("status: must be one of");
  });

  it("gRPC with JSON over HTTP/2: grpc-status 3 naming the field", async () => {
    const session = http2Connect(service.url);
    try {
      const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `${rpc}/CreateModel`,
          "content-type": "application/grpc+json",
          te: "trailers",
          authorization: `Bearer ${bearer}`,
        });
        stream.on("trailers", (t) => resolve(t));
        stream.on("error", reject);
        stream.on("data", () => undefined);
        stream.end(envelope(Buffer.from(JSON.stringify(model({ credentials: { tokn: secretValue } }, "hygiene-grpc")))));
      });
      expect(trailers["grpc-status"]).toBe("3");
      const message = decodeURIComponent(String(trailers["grpc-message"]));
      expect(message).toContain("model.spec.credentials.tokn:");
      expect(message).not.toContain(secretValue);
    } finally {
      session.close();
    }
  });

  it("binary protobuf ignores unknown fields, as the spec requires", async () => {
    const body = withUnknownField(CreateModelRequestSchema, model({}, "hygiene-binary"), Buffer.from("unknown"));
    const answer = await post(service.url, bearer, "CreateModel", body, { "content-type": "application/proto" });
    expect(answer.status, answer.bytes.toString("utf8")).toBe(200);
    expect(await countNamed("hygiene-binary")).toBe(1);
  });

  it("REST refuses them too", async () => {
    const res = await fetch(`${service.url}/v1/workspaces/${ws}/models?status=MODEL_STATUS_DISABLD`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(res.status).toBe(400);
  });

  it("item 9: Connect GET with a message that is not base64 is InvalidArgument naming it", async () => {
    for (const encoding of ["proto", "json"]) {
      const res = await fetch(`${service.url}${rpc}/ListModels?connect=v1&encoding=${encoding}&base64=1&message=!!!`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      const body = (await res.json()) as { code: string; message: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe("invalid_argument");
      expect(body.message).toContain("message:");
    }
  });
});
