import { connect as http2Connect } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { ModelStatus } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Bad input (API.md "Errors"): every request field refuses bad values with
 * InvalidArgument and a google.rpc.BadRequest field violation naming it;
 * bad input is never a 500.
 */

const workspace = "ws_validation";
const listPath = "/modelservice.v1.ModelService/ListModels";

let service: TestService;
let token: string;
/** A real model id of the workspace, so that only the field under test is wrong. */
let modelId: string;

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(workspace);
  const list = await modelClient(service.url, token).listModels({ limit: 1 });
  modelId = list.items[0]!.metadata!.id;
});
afterAll(() => service.dispose());

interface BadInput {
  name: string;
  /** The field the violation must name (its JSON name). */
  field: string;
  call: (c: ModelClient) => Promise<unknown>;
}

const badInputs: BadInput[] = [
  // ListModels
  { name: "ListModels limit -1", field: "limit", call: (c) => c.listModels({ limit: -1 }) },
  { name: 'ListModels sortOrder "sideways"', field: "sortOrder", call: (c) => c.listModels({ sortOrder: "sideways" }) },
  { name: 'ListModels labels "env" (no value)', field: "labels", call: (c) => c.listModels({ labels: "env" }) },
  { name: 'ListModels labels "=x" (no key)', field: "labels", call: (c) => c.listModels({ labels: "=x" }) },
  { name: "ListModels status 99 (unknown enum value)", field: "status", call: (c) => c.listModels({ status: 99 as ModelStatus }) },
  { name: "ListModels prefix of 10,000 characters", field: "prefix", call: (c) => c.listModels({ prefix: "p".repeat(10_000) }) },
  { name: 'ListModels workspaceId "../etc"', field: "workspaceId", call: (c) => c.listModels({ workspaceId: "../etc" }) },
  { name: 'ListModels cursor "garbage"', field: "cursor", call: (c) => c.listModels({ cursor: "garbage" }) },
  { name: "ListModels query with a NUL character", field: "query", call: (c) => c.listModels({ query: "claude\u0000sonnet" }) },
  // GetModel
  { name: 'GetModel id "" (required)', field: "id", call: (c) => c.getModel({ id: "" }) },
  { name: 'GetModel id "nope"', field: "id", call: (c) => c.getModel({ id: "nope" }) },
  { name: "GetModel id with SQL in it", field: "id", call: (c) => c.getModel({ id: "model_' OR 1=1 --" }) },
  // SetModelStatus
  {
    name: "SetModelStatus status MODEL_STATUS_UNSPECIFIED (required)",
    field: "status",
    call: (c) => c.setModelStatus({ id: modelId, status: ModelStatus.UNSPECIFIED }),
  },
  {
    name: "SetModelStatus status 7 (unknown enum value)",
    field: "status",
    call: (c) => c.setModelStatus({ id: modelId, status: 7 as ModelStatus }),
  },
  { name: 'SetModelStatus id ""', field: "id", call: (c) => c.setModelStatus({ id: "", status: ModelStatus.DISABLED }) },
  // EnableModel / DisableModel
  { name: 'EnableModel id ""', field: "id", call: (c) => c.enableModel({ id: "" }) },
  { name: 'DisableModel id ""', field: "id", call: (c) => c.disableModel({ id: "" }) },
  { name: 'DisableModel id "nope"', field: "id", call: (c) => c.disableModel({ id: "nope" }) },
  // CreateModel: a price whose cents would not fit a safe integer (found by fuzzing: was a 500)
  {
    name: "CreateModel price of 10^20 dollars",
    field: "model.spec.inputPricePerMillionTokensUsd",
    call: (c) => c.createModel({ model: { metadata: { name: "Huge" }, spec: { inputPricePerMillionTokensUsd: "99999999999999999999.99" } } }),
  },
];

describe.each(["connect+json", "grpc"])("InvalidArgument with a field violation over %s", (protocol) => {
  it.each(badInputs)("$name → $field", async ({ field, call }) => {
    let error: unknown;
    try {
      await call(modelClient(service.url, token, protocol));
    } catch (e) {
      error = e;
    }
    expect(error, "the call succeeded").toBeInstanceOf(ConnectError);
    const err = error as ConnectError;
    expect(Code[err.code], err.message).toBe(Code[Code.InvalidArgument]);
    const details = err.findDetails(BadRequestSchema);
    expect(details, "google.rpc.BadRequest detail").toHaveLength(1);
    const violations = details[0]!.fieldViolations;
    expect(violations.map((v) => v.field)).toEqual([field]);
    expect(violations[0]!.description).not.toBe("");
  });
});

describe("nothing changed after a refused SetModelStatus", () => {
  it("the model keeps its status", async () => {
    const c = modelClient(service.url, token);
    const before = (await c.getModel({ id: modelId })).spec?.status;
    await expect(c.setModelStatus({ id: modelId, status: 7 as ModelStatus })).rejects.toBeInstanceOf(ConnectError);
    await expect(c.setModelStatus({ id: modelId, status: ModelStatus.UNSPECIFIED })).rejects.toBeInstanceOf(ConnectError);
    expect((await c.getModel({ id: modelId })).spec?.status).toBe(before);
  });
});

describe("raw HTTP to the Connect endpoint", () => {
  function post(body: string | Uint8Array, contentType = "application/json"): Promise<Response> {
    return fetch(service.url + listPath, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${token}` },
      body,
    });
  }

  it.each([
    ["a body that is not JSON", "this is {not json"],
    ["a truncated JSON body", '{"limit": 5'],
    ["a wrong type: limit is a string", '{"limit":"abc"}'],
    ["a wrong type: prefix is a number", '{"prefix":42}'],
    ["a wrong type: the body is an array", "[1,2,3]"],
  ])("%s → 400 invalid_argument", async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { code?: string; message?: string };
    expect(json.code).toBe("invalid_argument");
  });

  // Connect-node 2.x answers a binary body it cannot parse with `internal` (HTTP 500,
  // "parse binary: premature EOF") unless the server maps it; API.md says bad input is never a 500.
  it.each([
    ["truncated length-delimited field", [0x0a, 0xff, 0xff]],
    ["truncated varint", [0x18, 0xff]],
    ["invalid wire type", [0x0f]],
  ])("a garbage application/proto body (%s) is not a 500", async (_name, bytes) => {
    const res = await post(new Uint8Array(bytes), "application/proto");
    expect(res.status).toBeLessThan(500);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { code?: string };
    expect(json.code).toBe("invalid_argument");
  });
});

describe("raw gRPC", () => {
  /** Sends one gRPC message frame over HTTP/2 and returns the grpc-status it ends with. */
  function grpcCall(path: string, message: Uint8Array): Promise<{ httpStatus: number; grpcStatus: string | undefined }> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(service.url);
      session.on("error", reject);
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt8(0, 0);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: `Bearer ${token}`,
      });
      let httpStatus = 0;
      let grpcStatus: string | undefined;
      stream.on("response", (headers) => {
        httpStatus = Number(headers[":status"]);
        // A trailers-only response carries grpc-status in the headers.
        if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
      });
      stream.on("trailers", (trailers) => {
        if (trailers["grpc-status"] !== undefined) grpcStatus = String(trailers["grpc-status"]);
      });
      stream.on("data", () => undefined);
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        resolve({ httpStatus, grpcStatus });
      });
      stream.end(frame);
    });
  }

  it("a well-formed message is OK (the frame builder works)", async () => {
    const res = await grpcCall(listPath, new Uint8Array([0x18, 0x01])); // limit: 1
    expect(res).toEqual({ httpStatus: 200, grpcStatus: "0" });
  });

  it("a garbage protobuf message is InvalidArgument, not Internal", async () => {
    const res = await grpcCall(listPath, new Uint8Array([0x0a, 0xff, 0xff]));
    expect(res.httpStatus).toBe(200);
    expect(Code[Number(res.grpcStatus)]).toBe(Code[Code.InvalidArgument]);
  });
});

describe("page sizes", () => {
  it.each(["connect+json", "grpc"])("%s: limit 5000 is clamped, not refused", async (protocol) => {
    const res = await modelClient(service.url, token, protocol).listModels({ limit: 5000 });
    const total = res.pagination!.total!;
    expect(res.items.length).toBeLessThanOrEqual(1000);
    expect(res.items).toHaveLength(Math.min(total, 1000));
  });

  it.each(["connect+json", "grpc"])("%s: limit 0 means the default page of 50", async (protocol) => {
    const res = await modelClient(service.url, token, protocol).listModels({ limit: 0 });
    expect(res.pagination!.total!).toBeGreaterThan(50);
    expect(res.items).toHaveLength(50);
    expect(res.pagination?.nextCursor).not.toBe("");
  });

  it("limit 1000 and limit 1 are fine", async () => {
    const c = modelClient(service.url, token);
    expect((await c.listModels({ limit: 1 })).items).toHaveLength(1);
    const all = await c.listModels({ limit: 1000 });
    expect(all.items).toHaveLength(all.pagination!.total!);
  });
});
