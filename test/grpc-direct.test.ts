import { connect, type ClientHttp2Session } from "node:http2";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import {
  CreateModelRequestSchema,
  GetModelRequestSchema,
  ListModelsRequestSchema,
  ListModelsResponseSchema,
  ModelService,
} from "../gen/modelservice/v1/model_service_pb.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * gRPC unary calls run on the RPC's implementation directly
 * (src/wire/grpc-direct.ts) in the plain case, and through connect's gRPC
 * handler otherwise — a request saying `grpc-encoding: identity` is one. Both
 * must answer alike, byte for byte: headers, frames, trailers.
 */
describe("gRPC calls run directly answer as connect does", () => {
  let service: TestService;
  let token: string;
  let modelId: string;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_RATE_LIMIT_RPS: "1000", MODELSERVICE_MAX_BODY_BYTES: "65536" });
    token = await service.token("ws_grpc_direct");
    const res = await fetch(`${service.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    modelId = ((await res.json()) as { items: Array<{ metadata: { id: string } }> }).items[0]!.metadata.id;
    session = connect(service.url);
    session.on("error", () => undefined);
  });
  afterAll(async () => {
    session.destroy();
    await service.dispose();
  });

  interface Answer {
    headers: Record<string, unknown>;
    body: string;
    trailers: Record<string, unknown>;
  }

  /** A call's answer as a client sees it, without the header that differs between any two responses (date). */
  function call(method: string, body: Uint8Array, headers: Record<string, string>): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `/modelservice.v1.ModelService/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
        "x-request-id": "req-grpc-direct-1",
        ...headers,
      });
      let response: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      const answered = () => {
        const { date: _date, ...seen } = response;
        resolve({ headers: seen, body: Buffer.concat(chunks).toString("hex"), trailers });
      };
      stream.on("response", (h) => (response = h));
      stream.on("data", (d: Buffer) => chunks.push(d));
      // The answer is whole at the trailers; a request body the server stopped reading may keep the stream itself open.
      stream.on("trailers", (t) => {
        trailers = t;
        answered();
        stream.close();
      });
      stream.on("error", reject);
      stream.on("close", answered);
      stream.end(body);
    });
  }

  function frame(bytes: Uint8Array): Buffer {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(bytes.byteLength, 1);
    return Buffer.concat([prefix, bytes]);
  }

  function message<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Buffer {
    return frame(toBinary(schema, create(schema, init)));
  }

  const auth = () => ({ authorization: `Bearer ${token}` });
  const cases: Array<[string, string, () => Uint8Array, () => Record<string, string>]> = [
    ["GetModel", "a model", () => message(GetModelRequestSchema, { id: modelId }), auth],
    ["ListModels", "a list, compressed", () => message(ListModelsRequestSchema, { limit: 50 }), () => ({ ...auth(), "grpc-accept-encoding": "gzip" })],
    ["ListModels", "a list, uncompressed", () => message(ListModelsRequestSchema, { limit: 50 }), auth],
    ["GetModel", "a small answer with compression accepted", () => message(GetModelRequestSchema, { id: modelId }), () => ({ ...auth(), "grpc-accept-encoding": "br,gzip" })],
    ["GetModel", "NotFound", () => message(GetModelRequestSchema, { id: "mdl_doesnotexist" }), auth],
    ["GetModel", "InvalidArgument with field violations", () => message(GetModelRequestSchema, { id: "" }), auth],
    ["GetModel", "Unauthenticated", () => message(GetModelRequestSchema, { id: modelId }), () => ({})],
    ["GetModel", "a bad token", () => message(GetModelRequestSchema, { id: modelId }), () => ({ authorization: "Bearer not-a-token" })],
    ["GetModel", "DeadlineExceeded", () => message(GetModelRequestSchema, { id: modelId }), () => ({ ...auth(), "grpc-timeout": "0n" })],
    ["GetModel", "a deadline ahead", () => message(GetModelRequestSchema, { id: modelId }), () => ({ ...auth(), "grpc-timeout": "5S" })],
    ["GetModel", "a body that is not protobuf", () => frame(Buffer.from([0xff, 0xff, 0xff])), auth],
    ["GetModel", "two frames", () => Buffer.concat([message(GetModelRequestSchema, { id: modelId }), message(GetModelRequestSchema, { id: modelId })]), auth],
    ["GetModel", "no frame", () => new Uint8Array(0), auth],
    ["GetModel", "a body over the limit, in many chunks", () => frame(toBinary(GetModelRequestSchema, create(GetModelRequestSchema, { id: "x".repeat(200_000) }))), auth],
    ["GetModel", "a frame declaring more than the limit", () => Buffer.from([0, 0, 0x10, 0, 0, 1, 2, 3]), auth],
    ["GetModel", "a frame flagged compressed", () => Buffer.from([1, 0, 0, 0, 0]), auth],
    ["CreateModel", "a write refused by validation", () => message(CreateModelRequestSchema, { model: { spec: { family: "x".repeat(200) } } }), auth],
  ];

  it.each(cases)("%s: %s", async (method, _what, body, headersOf) => {
    const direct = await call(method, body(), headersOf());
    const throughConnect = await call(method, body(), { ...headersOf(), "grpc-encoding": "identity" });
    expect(direct).toEqual(throughConnect);
  });

  it("serves the answer it read, and compresses what connect compresses", async () => {
    const plain = await call("ListModels", message(ListModelsRequestSchema, { limit: 50 }), auth());
    const plainBytes = Buffer.from(plain.body, "hex");
    expect(plainBytes[0]).toBe(0);
    const page = fromBinary(ListModelsResponseSchema, plainBytes.subarray(5));
    expect(page.items.length).toBeGreaterThan(10);
    const gzipped = await call("ListModels", message(ListModelsRequestSchema, { limit: 50 }), { ...auth(), "grpc-accept-encoding": "gzip" });
    expect(gzipped.headers["grpc-encoding"]).toBe("gzip");
    const gzippedBytes = Buffer.from(gzipped.body, "hex");
    expect(gzippedBytes[0]).toBe(1);
    expect(Buffer.from(gunzipSync(gzippedBytes.subarray(5)))).toEqual(plainBytes.subarray(5));
    const one = await call("GetModel", message(GetModelRequestSchema, { id: modelId }), auth());
    expect(fromBinary(ModelSchema, Buffer.from(one.body, "hex").subarray(5)).metadata?.id).toBe(modelId);
  });

  it("counts and logs a direct call as any call", async () => {
    const before = service.logs.length;
    const res = await call("GetModel", message(GetModelRequestSchema, { id: modelId }), { ...auth(), "x-request-id": "req-grpc-direct-logged" });
    expect(res.trailers["grpc-status"]).toBe("0");
    expect(res.headers["x-request-id"]).toBe("req-grpc-direct-logged");
    const line = service.logs.slice(before).find((l) => l.requestId === "req-grpc-direct-logged");
    expect(line).toMatchObject({ method: "modelservice.v1.ModelService/GetModel", code: "ok" });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/modelservice_requests_total\{method="modelservice\.v1\.ModelService\/GetModel",code="ok"\} [1-9]/);
  });

  // grpc-js and the C-core client (buf curl) are the suites' of grpc-js.test.ts and protocols.test.ts.
  it("answers connect-node's gRPC client", async () => {
    const connectClient = createClient(ModelService, createGrpcTransport({ baseUrl: service.url }));
    const headers = { authorization: `Bearer ${token}` };
    expect((await connectClient.getModel({ id: modelId }, { headers })).metadata?.id).toBe(modelId);
    expect((await connectClient.listModels({ limit: 50 }, { headers })).items.length).toBeGreaterThan(10);
  });
});
