import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "./support/service.js";

/** @grpc/grpc-js with @grpc/proto-loader: an independent gRPC implementation reading our .proto files. */
const definition = protoLoader.loadSync("modelservice/v1/model_service.proto", {
  includeDirs: ["proto", "node_modules/google-proto-files"],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  modelservice: { v1: { ModelService: grpc.ServiceClientConstructor } };
};

type Unary = (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

let service: TestService;
let client: grpc.Client & Record<string, Unary>;
let metadata: grpc.Metadata;

function call<T = any>(method: string, req: object, md = metadata): Promise<T> {
  return new Promise((resolve, reject) => client[method]!.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res as T))));
}

beforeAll(async () => {
  service = await startTestService();
  client = new loaded.modelservice.v1.ModelService(`127.0.0.1:${service.port}`, grpc.credentials.createInsecure()) as never;
  metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${await service.token("ws_grpcjs")}`);
});
afterAll(async () => {
  client.close();
  await service.dispose();
});

describe("@grpc/grpc-js client", () => {
  it("lists, gets, sets status, enables and disables", async () => {
    const list = await call("listModels", { limit: 3, sortOrder: "desc" });
    expect(list.items).toHaveLength(3);
    expect(list.pagination.total).toBeGreaterThanOrEqual(30);
    const id: string = list.items[0].metadata.id;
    // int64 prices arrive as decimal strings (longs: String); the newest models may be catalog entries without a price, so look further.
    const priced = (await call("listModels", { limit: 50 })).items.find((m: any) => m.spec.inputPricePerMillionTokens !== undefined);
    expect(priced.spec.inputPricePerMillionTokens).toMatch(/^\d+$/);

    const model = await call("getModel", { id });
    expect(model.metadata.id).toBe(id);
    expect(model.spec.status).toBe("MODEL_STATUS_ENABLED");

    expect((await call("disableModel", { id })).spec.status).toBe("MODEL_STATUS_DISABLED");
    expect((await call("enableModel", { id })).spec.status).toBe("MODEL_STATUS_ENABLED");
    expect((await call("setModelStatus", { id, status: "MODEL_STATUS_DISABLED" })).spec.status).toBe("MODEL_STATUS_DISABLED");

    const disabled = await call("listModels", { status: "MODEL_STATUS_DISABLED" });
    expect(disabled.items.map((m: any) => m.metadata.id)).toEqual([id]);
  });

  it("maps errors to gRPC status codes", async () => {
    await expect(call("getModel", { id: "model_01ARZ3NDEKTSV4RRFFQ69G5FAV" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(call("getModel", { id: "" })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(call("setModelStatus", { id: "model_01ARZ3NDEKTSV4RRFFQ69G5FAV", status: "MODEL_STATUS_UNSPECIFIED" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    await expect(call("listModels", {}, new grpc.Metadata())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it("checks health without a token", async () => {
    const health = grpc.loadPackageDefinition(
      protoLoader.loadSync("health/v1/health.proto", { includeDirs: ["node_modules/grpc-health-check/proto"], enums: String }),
    ) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    const h = new health.grpc.health.v1.Health(`127.0.0.1:${service.port}`, grpc.credentials.createInsecure()) as grpc.Client &
      Record<string, Unary>;
    const res = await new Promise<any>((resolve, reject) =>
      h.check!.call(h, { service: "" }, new grpc.Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
    );
    h.close();
    expect(res.status).toBe("SERVING");
  });
});
