import { equals } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema, ModelStatus } from "../gen/modelservice/v1/model_pb.js";
import { ListModelsResponseSchema, ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { transports } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

// GetModel and ListModels answers go out in binary from an encoded copy kept beside the read cache's answer (src/wire/encoded-answers.ts).
describe("answers kept encoded", () => {
  let service: TestService;
  let token: string;

  beforeAll(async () => {
    service = await startTestService();
    token = await service.token("ws_encoded");
  });
  afterAll(() => service.dispose());

  // connect-node's Connect transport speaks binary unless told otherwise: this one is JSON, as browsers and the seeds' SDKs send.
  const jsonClient = () => {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    return createClient(ModelService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", useBinaryFormat: false, interceptors: [bearer] }));
  };
  const everyProtocol = () => [
    { name: "connect JSON", client: jsonClient() },
    ...transports(service.url, token).map(({ name, transport }) => ({ name, client: createClient(ModelService, transport) })),
  ];

  it("are the same answers over every protocol, from the cache and again after a commit", async () => {
    const json = jsonClient();
    const first = await json.listModels({ limit: 5 });
    const id = first.items[0]!.metadata!.id;
    for (const round of ["first read", "cache hit"]) {
      for (const { name, client } of everyProtocol()) {
        expect(equals(ListModelsResponseSchema, await client.listModels({ limit: 5 }), first), `${name}, ${round}`).toBe(true);
        const model = await client.getModel({ id });
        expect(equals(ModelSchema, model, first.items[0]!), `${name}, ${round}`).toBe(true);
      }
    }
    const wasEnabled = first.items[0]!.spec?.status === ModelStatus.ENABLED;
    await (wasEnabled ? json.disableModel({ id }) : json.enableModel({ id }));
    const changed = wasEnabled ? ModelStatus.DISABLED : ModelStatus.ENABLED;
    const after = await json.listModels({ limit: 5 });
    expect(equals(ListModelsResponseSchema, after, first)).toBe(false);
    for (const { name, client } of everyProtocol()) {
      expect((await client.getModel({ id })).spec?.status, name).toBe(changed);
      expect(equals(ListModelsResponseSchema, await client.listModels({ limit: 5 }), after), name).toBe(true);
    }
  });
});
