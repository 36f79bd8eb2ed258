import { equals, toJsonString } from "@bufbuild/protobuf";
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

// Connect JSON and REST answers of GetModel and ListModels come from their encoded JSON bytes (src/wire/encoded-json-answers.ts).
describe("JSON answers kept encoded", () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.dispose());

  const connectJson = (token: string, method: string, body: unknown, acceptEncoding?: string) =>
    fetch(`${service.url}/modelservice.v1.ModelService/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(acceptEncoding ? { "accept-encoding": acceptEncoding } : {}) },
      body: JSON.stringify(body),
    });

  it("are the bytes connect writes, compressed as it would, the same from the cache", async () => {
    const token = await service.token("ws_json_bytes");
    const binary = createClient(ModelService, transports(service.url, token)[0]!.transport);
    // A model small enough to stay below connect's compression threshold (catalog models carry prices and history).
    const smallModel = await binary.createModel({ model: { metadata: { name: "Small" }, spec: { provider: "acme", family: "small" } } });
    // What connect itself writes for the answer, with the service's JSON options.
    const list = toJsonString(ListModelsResponseSchema, await binary.listModels({ limit: 50 }), { alwaysEmitImplicit: true });
    const model = toJsonString(ModelSchema, await binary.getModel({ id: smallModel.metadata!.id }), { alwaysEmitImplicit: true });
    const id = (JSON.parse(model) as { metadata: { id: string } }).metadata.id;
    for (const round of ["first", "cache hit"]) {
      const plain = await connectJson(token, "ListModels", { limit: 50 }, "identity");
      expect(plain.headers.get("content-encoding"), round).toBeNull();
      const text = await plain.text();
      expect(text, round).toBe(list);
      expect(Number(plain.headers.get("content-length")), round).toBe(Buffer.byteLength(text));
      // node's fetch undoes the content encoding; the header says which one the server chose.
      for (const encoding of ["gzip", "br"]) {
        const compressed = await connectJson(token, "ListModels", { limit: 50 }, encoding);
        expect(compressed.headers.get("content-encoding"), `${round}, ${encoding}`).toBe(encoding);
        expect(await compressed.text(), `${round}, ${encoding}`).toBe(list);
      }
      // Below connect's 1 KiB threshold an answer goes out uncompressed whatever the client accepts.
      const small = await connectJson(token, "GetModel", { id }, "gzip");
      expect(small.headers.get("content-encoding"), round).toBeNull();
      expect(await small.text(), round).toBe(model);
      const rest = await fetch(`${service.url}/v1/models/${id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(await rest.text(), round).toBe(model);
      const etag = rest.headers.get("etag")!;
      const unchanged = await fetch(`${service.url}/v1/models/${id}`, { headers: { authorization: `Bearer ${token}`, "if-none-match": etag } });
      expect(unchanged.status, round).toBe(304);
    }
  });

  it("never reach another workspace, and change with the model", async () => {
    const [mine, theirs] = [await service.token("ws_json_mine"), await service.token("ws_json_theirs")];
    const names = async (token: string) => {
      // Newest first, so that a model just created is on the page whatever the catalog's size.
      const connect = (await (await connectJson(token, "ListModels", { limit: 100, orderBy: "metadata.createdAt desc" })).json()) as {
        items: Array<{ metadata: { name: string } }>;
      };
      const rest = (await (
        await fetch(`${service.url}/v1/models?limit=100&orderBy=metadata.createdAt%20desc`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as typeof connect;
      expect(rest).toEqual(connect);
      return connect.items.map((m) => m.metadata.name);
    };
    const before = await names(theirs);
    expect(await names(mine)).toEqual(before);
    const created = await connectJson(mine, "CreateModel", { model: { metadata: { name: "Only mine" }, spec: { provider: "acme", family: "mine" } } });
    expect(created.status, await created.clone().text()).toBe(200);
    const { metadata } = (await created.json()) as { metadata: { id: string } };
    expect(await names(mine)).toContain("Only mine");
    expect(await names(theirs)).toEqual(before);
    const got = async (token: string) => (await connectJson(token, "GetModel", { id: metadata.id })).status;
    expect(await got(mine)).toBe(200);
    expect(await got(theirs)).toBe(404);
    const renamed = await connectJson(mine, "UpdateModel", { id: metadata.id, model: { metadata: { name: "Still mine" } }, updateMask: "metadata.name" });
    expect(renamed.status, await renamed.clone().text()).toBe(200);
    const after = (await (await connectJson(mine, "GetModel", { id: metadata.id })).json()) as { metadata: { name: string } };
    expect(after.metadata.name).toBe("Still mine");
  });
});
