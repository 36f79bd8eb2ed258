import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Connect unary JSON over HTTP/1.1 runs on the RPC's implementation directly
 * (src/wire/connect-json-direct.ts) in the plain case, and through connect's
 * handler otherwise — a request saying `content-encoding: identity` is one.
 * Both must answer alike, byte for byte: status, headers, body.
 */
describe("Connect JSON calls run directly answer as connect does", () => {
  let service: TestService;
  let token: string;
  let modelId: string;

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_RATE_LIMIT_RPS: "1000" });
    token = await service.token("ws_direct");
    const res = await fetch(`${service.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    modelId = ((await res.json()) as { items: Array<{ metadata: { id: string } }> }).items[0]!.metadata.id;
  });
  afterAll(() => service.dispose());

  /** The answer of a call, as a client sees it, with the headers that differ between any two responses taken out. */
  async function call(method: string, body: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-direct-1", ...headers },
      body,
    });
    const seen = Object.fromEntries([...res.headers].filter(([name]) => !["date", "connection", "keep-alive"].includes(name)));
    return { status: res.status, headers: seen, body: await res.text() };
  }

  const cases: Array<[string, string, string, (t: string) => Record<string, string>]> = [
    ["GetModel", "a model", '{"id":"@id"}', (t) => ({ authorization: `Bearer ${t}` })],
    ["ListModels", "a list, compressed", '{"limit":50}', (t) => ({ authorization: `Bearer ${t}`, "accept-encoding": "gzip" })],
    ["ListModels", "a list, uncompressed", '{"limit":50}', (t) => ({ authorization: `Bearer ${t}`, "accept-encoding": "identity" })],
    ["GetModel", "NotFound", '{"id":"mdl_doesnotexist"}', (t) => ({ authorization: `Bearer ${t}` })],
    ["GetModel", "InvalidArgument with field violations", '{"id":""}', (t) => ({ authorization: `Bearer ${t}` })],
    ["GetModel", "Unauthenticated", '{"id":"@id"}', () => ({})],
    ["GetModel", "a bad token", '{"id":"@id"}', () => ({ authorization: "Bearer not-a-token" })],
    ["GetModel", "DeadlineExceeded", '{"id":"@id"}', (t) => ({ authorization: `Bearer ${t}`, "connect-timeout-ms": "0" })],
    ["GetModel", "an unknown field", '{"id":"@id","nope":1}', (t) => ({ authorization: `Bearer ${t}` })],
    ["CreateModel", "a write refused by validation", '{"spec":{"name":""}}', (t) => ({ authorization: `Bearer ${t}` })],
  ];

  it.each(cases)("%s: %s", async (method, _what, template, headersOf) => {
    const body = template.replace("@id", modelId);
    const direct = await call(method, body, headersOf(token));
    const throughConnect = await call(method, body, { ...headersOf(token), "content-encoding": "identity" });
    expect(direct).toEqual(throughConnect);
  });

  it("counts and logs a direct call as any call", async () => {
    const before = service.logs.length;
    const res = await call("GetModel", JSON.stringify({ id: modelId }), { authorization: `Bearer ${token}`, "x-request-id": "req-direct-logged" });
    expect(res.status).toBe(200);
    expect(res.headers["x-request-id"]).toBe("req-direct-logged");
    const line = service.logs.slice(before).find((l) => l.requestId === "req-direct-logged");
    expect(line).toMatchObject({ method: "modelservice.v1.ModelService/GetModel", code: "ok" });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/modelservice_requests_total\{method="modelservice\.v1\.ModelService\/GetModel",code="ok"\} [1-9]/);
  });
});
