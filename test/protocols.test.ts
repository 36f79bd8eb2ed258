import { createClient } from "@connectrpc/connect";
import { connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus } from "../gen/modelservice/v1/model_pb.js";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { transports } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

let service: TestService;
let token: string;

beforeAll(async () => {
  service = await startTestService();
  token = await service.token("ws_protocols");
});
afterAll(() => service.dispose());

describe("every RPC over every connect-node transport", () => {
  it.each(["connect+json", "connect+proto", "connect+json GET", "connect+json h2c", "grpc", "grpc-web", "grpc-web h2c"])(
    "%s",
    async (name) => {
      const transport = transports(service.url, token).find((t) => t.name === name)!.transport;
      const client = createClient(ModelService, transport);

      const list = await client.listModels({ limit: 5 });
      expect(list.items).toHaveLength(5);
      expect(list.pagination?.total).toBeGreaterThanOrEqual(30);
      expect(list.pagination?.nextCursor).not.toBe("");
      const first = list.items[0]!;
      expect(first.metadata?.id).toMatch(/^model_[0-9A-Z]{26}$/);
      expect(first.metadata?.workspaceId).toBe("ws_protocols");

      const got = await client.getModel({ id: first.metadata!.id });
      expect(got.metadata?.name).toBe(first.metadata?.name);
      expect(got.spec?.family).toBe(first.spec?.family);

      if (name.endsWith("GET")) return; // GET is for side-effect-free methods only
      const disabled = await client.disableModel({ id: first.metadata!.id });
      expect(disabled.spec?.status).toBe(ModelStatus.DISABLED);
      const enabled = await client.enableModel({ id: first.metadata!.id });
      expect(enabled.spec?.status).toBe(ModelStatus.ENABLED);
      const set = await client.setModelStatus({ id: first.metadata!.id, status: ModelStatus.DISABLED });
      expect(set.spec?.status).toBe(ModelStatus.DISABLED);
      expect((await client.getModel({ id: first.metadata!.id })).spec?.status).toBe(ModelStatus.DISABLED);
      await client.setModelStatus({ id: first.metadata!.id, status: ModelStatus.ENABLED });
    },
  );

  it("a Connect GET is a plain HTTP GET with the message in the query", async () => {
    const message = encodeURIComponent(JSON.stringify({ limit: 1 }));
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels?connect=v1&encoding=json&message=${message}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: unknown[]; pagination: { total: number } };
    expect(body.items).toHaveLength(1);
    expect(body.pagination.total).toBeGreaterThanOrEqual(30);
  });
});

describe("a body that is not valid protobuf binary is InvalidArgument, never Internal", () => {
  const garbage = Buffer.from([0x0a, 0xff, 0xff]);
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);
  const path = "/modelservice.v1.ModelService/GetModel";

  it("Connect unary: HTTP 400 invalid_argument", async () => {
    const res = await fetch(service.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/proto" },
      body: garbage,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("gRPC-Web: grpc-status 3 in the trailer frame", async () => {
    const res = await fetch(service.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/grpc-web+proto" },
      body: frame,
    });
    const text = Buffer.from(await res.arrayBuffer()).toString();
    expect(text).toContain("grpc-status: 3");
  });

  it("gRPC: grpc-status 3 in the trailers", async () => {
    const session = connect(service.url);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${token}`,
    });
    stream.end(frame);
    stream.resume();
    const trailers = await new Promise<Record<string, unknown>>((resolve) => stream.on("trailers", resolve));
    session.close();
    expect(trailers["grpc-status"]).toBe("3");
  });
});
