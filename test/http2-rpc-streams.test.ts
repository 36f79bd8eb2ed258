import { connect, constants as http2Constants, type ClientHttp2Session } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListModelsRequestSchema } from "../gen/modelservice/v1/model_service_pb.js";
import { startTestService, type TestService } from "./support/service.js";

// HTTP/2 RPC calls are served from the session's streams, past node's compatibility layer (src/wire/http2-rpc-streams.ts).
describe("HTTP/2 calls served from the session's streams", () => {
  let service: TestService;
  let token: string;
  let session: ClientHttp2Session;
  const origin = "https://console.example";
  const path = "/modelservice.v1.ModelService/ListModels";
  const message = toBinary(ListModelsRequestSchema, create(ListModelsRequestSchema, { limit: 2 }));
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_CORS_ORIGINS: origin });
    token = await service.token("ws_h2_streams");
    session = connect(service.url);
    session.on("error", () => undefined);
  });
  afterAll(async () => {
    session.destroy();
    await service.dispose();
  });

  function call(headers: Record<string, string>, body: Buffer | undefined) {
    return new Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown>; bytes: number; rstCode: number }>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers }, { endStream: false });
      let response: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      let bytes = 0;
      stream.on("response", (h) => (response = h));
      stream.on("trailers", (t) => (trailers = t));
      stream.on("data", (d: Buffer) => (bytes += d.length));
      stream.on("error", () => undefined);
      stream.on("close", () => resolve({ headers: response, trailers, bytes, rstCode: stream.rstCode ?? 0 }));
      if (body) stream.end(body);
      else stream.close(http2Constants.NGHTTP2_CANCEL);
    });
  }

  it("answer gRPC with headers, message and trailers", async () => {
    const res = await call({ authorization: `Bearer ${token}` }, frame);
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["content-type"]).toBe("application/grpc+proto");
    expect(res.trailers["grpc-status"]).toBe("0");
    expect(res.bytes).toBeGreaterThan(5);
  });

  it("a call with an Origin still gets its CORS headers, as over HTTP/1.1", async () => {
    const res = await call({ authorization: `Bearer ${token}`, origin }, frame);
    expect(res.headers["access-control-allow-origin"]).toBe(origin);
    expect(res.trailers["grpc-status"]).toBe("0");
  });

  it("streams the client resets never stop the server: the next call is answered", async () => {
    await Promise.all(Array.from({ length: 20 }, () => call({ authorization: `Bearer ${token}` }, undefined)));
    const res = await call({ authorization: `Bearer ${token}` }, frame);
    expect(res.trailers["grpc-status"]).toBe("0");
  });
});
