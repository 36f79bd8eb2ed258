import { setTimeout as sleep } from "node:timers/promises";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { connect as connectHttp2 } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { Health } from "../gen/health/v1/health_pb.js";
import { loadConfig, ConfigError } from "../src/config.js";
import { TokenBuckets } from "../src/wire/interceptors/rate-limit-interceptor.js";
import { modelClient } from "./support/clients.js";
import { expectRpcCode } from "./support/expect-code.js";
import { startTestService, type TestService } from "./support/service.js";

const ws = "ws_limits";
const listModels = 'modelservice_requests_total{method="modelservice.v1.ModelService/ListModels",code="ok"}';
const listModelsLimited = 'modelservice_requests_total{method="modelservice.v1.ModelService/ListModels",code="resource_exhausted"}';

async function metricsText(service: TestService): Promise<string> {
  const res = await fetch(`${service.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the sample whose name and labels are exactly `series`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("per-token rate limit and /metrics", () => {
  let service: TestService;
  let tokenA: string;
  let tokenB: string;
  let modelId: string;

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_RATE_LIMIT_RPS: "2", MODELSERVICE_RATE_LIMIT_BURST: "3" });
    tokenA = await service.token(ws);
    tokenB = await service.token(ws, { profileId: "profile_other" });
    // A third token, used once, for the id of a model (kept out of the buckets under test).
    const setup = modelClient(service.url, await service.token(ws, { profileId: "profile_setup" }));
    modelId = (await setup.listModels({ limit: 1 })).items[0]!.metadata!.id;
  });
  afterAll(() => service.dispose());

  it("refuses the call past the burst with ResourceExhausted, RetryInfo and retry-after; REST is 429", async () => {
    const before = await metricsText(service);
    const a = modelClient(service.url, tokenA);
    for (let i = 0; i < 3; i++) await a.listModels({ limit: 1 });
    const error = await expectRpcCode(a.listModels({ limit: 1 }), Code.ResourceExhausted);
    const retry = error.findDetails(RetryInfoSchema)[0];
    expect(retry?.retryDelay).toBeDefined();
    const delayMs = Number(retry!.retryDelay!.seconds) * 1000 + retry!.retryDelay!.nanos / 1e6;
    expect(delayMs).toBeGreaterThan(0);
    expect(delayMs).toBeLessThanOrEqual(500);
    expect(error.metadata.get("retry-after")).toBe("1");
    expect(error.metadata.get("x-request-id")).toBeTruthy();

    const res = await fetch(`${service.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${tokenA}` } });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("retry-after-ms")).toBe("1000");
    expect(((await res.json()) as { code: number }).code).toBe(Code.ResourceExhausted);

    // Another token has its own bucket.
    const b = modelClient(service.url, tokenB, "grpc");
    await b.listModels({ limit: 1 });

    // A token refills at 2 per second.
    await sleep(600);
    await a.listModels({ limit: 1 });

    const after = await metricsText(service);
    expect(sample(after, listModels) - sample(before, listModels)).toBe(5);
    expect(sample(after, listModelsLimited) - sample(before, listModelsLimited)).toBe(2);
    expect(sample(after, "modelservice_rate_limited_total") - sample(before, "modelservice_rate_limited_total")).toBe(2);
  });

  it("does not limit unauthenticated calls into buckets, nor health checks", async () => {
    const anonymous = modelClient(service.url, "not-a-token");
    for (let i = 0; i < 5; i++) await expectRpcCode(anonymous.listModels({}), Code.Unauthenticated);
    const health = createClient(Health, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }));
    for (let i = 0; i < 5; i++) await health.check({ service: "modelservice.v1.ModelService" });
    const text = await metricsText(service);
    expect(sample(text, 'modelservice_requests_total{method="grpc.health.v1.Health/Check",code="ok"}')).toBeGreaterThanOrEqual(5);
    expect(
      sample(text, 'modelservice_requests_total{method="modelservice.v1.ModelService/ListModels",code="unauthenticated"}'),
    ).toBeGreaterThanOrEqual(5);
  });

  it("serves the histogram, in-flight gauge, database size and process metrics without a token", async () => {
    const text = await metricsText(service);
    expect(text).toMatch(/^modelservice_request_duration_seconds_bucket\{le="0\.005",method="modelservice\.v1\.ModelService\/ListModels"\} \d+$/m);
    expect(text).toMatch(/^modelservice_request_duration_seconds_count\{method="modelservice\.v1\.ModelService\/ListModels"\} \d+$/m);
    expect(sample(text, 'modelservice_requests_in_flight{method="modelservice.v1.ModelService/ListModels"}')).toBe(0);
    expect(text).toContain("# TYPE modelservice_requests_in_flight gauge");
    expect(sample(text, "modelservice_database_bytes")).toBeGreaterThan(0);
    expect(sample(text, "modelservice_rate_limited_total")).toBeGreaterThan(0);
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });

  it("REST calls count as their RPC", async () => {
    const series = 'modelservice_requests_total{method="modelservice.v1.ModelService/GetModel",code="ok"}';
    const before = sample(await metricsText(service), series);
    await sleep(600);
    const res = await fetch(`${service.url}/v1/models/${modelId}`, { headers: { authorization: `Bearer ${tokenB}` } });
    expect(res.status).toBe(200);
    expect(sample(await metricsText(service), series)).toBe(before + 1);
  });

  it("puts no token, id or request value into /metrics", async () => {
    const c = modelClient(service.url, tokenB, "connect+json h2c");
    await sleep(600);
    await c.getModel({ id: modelId }, { headers: { "x-request-id": "req-secret-4711" } });
    await c.getModel({ id: "mdl_nope_secret_value" }).catch(() => undefined);
    const text = await metricsText(service);
    for (const value of [tokenA, tokenB, tokenA.slice(-20), modelId, ws, "req-secret-4711", "nope_secret", "profile_other", "acct_test"]) {
      expect(text).not.toContain(value);
    }
    // Every label value of the service's own series is a method name, a code or a bucket bound.
    const labels = [...text.matchAll(/^modelservice_\w+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)]);
    expect(labels.length).toBeGreaterThan(0);
    for (const [, name, value] of labels) {
      if (name === "method") expect(value).toMatch(/^[a-z][\w.]*\.[A-Z]\w*\/[A-Z]\w*$/);
      else if (name === "code") expect(value).toMatch(/^[a-z_]+$/);
      else if (name === "le") expect(value).toMatch(/^(\+Inf|[\d.]+)$/);
      else throw new Error(`unexpected label ${name}`);
    }
  });
});

describe("server limits", () => {
  let service: TestService;
  let token: string;

  beforeAll(async () => {
    service = await startTestService({
      MODELSERVICE_MAX_BODY_BYTES: "2048",
      MODELSERVICE_HEADERS_TIMEOUT_MS: "300",
      MODELSERVICE_REQUEST_TIMEOUT_MS: "1000",
      MODELSERVICE_IDLE_TIMEOUT_MS: "300",
    });
    token = await service.token(ws);
  });
  afterAll(() => service.dispose());

  /** Opens a connection, writes `bytes`, and resolves with the time until the server closed it and what it sent. */
  function slowClient(bytes: string): Promise<{ ms: number; received: string }> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      let received = "";
      const socket: Socket = connectTcp(service.port, "127.0.0.1", () => {
        if (bytes !== "") socket.write(bytes);
      });
      socket.setEncoding("utf8");
      socket.on("data", (d: string) => (received += d));
      socket.on("error", () => undefined);
      socket.on("close", () => resolve({ ms: performance.now() - started, received }));
      setTimeout(() => {
        socket.destroy();
        reject(new Error("the server kept the slow connection open"));
      }, 5_000);
    });
  }

  it("closes a connection that never finishes its headers", async () => {
    const { ms, received } = await slowClient("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    expect(ms).toBeLessThan(2_000);
    expect(received === "" || received.startsWith("HTTP/1.1 408")).toBe(true);
  });

  it("closes a connection that sends nothing, or only part of the HTTP/2 preface", async () => {
    expect((await slowClient("")).ms).toBeLessThan(2_000);
    expect((await slowClient("PRI * HTTP/2")).ms).toBeLessThan(2_000);
  });

  it("still serves a request sent in time, and keeps a busy connection", async () => {
    const res = await fetch(`${service.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("announces the HTTP/2 stream limit and closes idle HTTP/2 connections", async () => {
    const session = connectHttp2(service.url);
    session.on("error", () => undefined);
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) => session.once("remoteSettings", resolve));
    expect(settings.maxConcurrentStreams).toBe(100);
    const started = performance.now();
    await new Promise<void>((resolve) => session.once("close", () => resolve()));
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("refuses a body over MODELSERVICE_MAX_BODY_BYTES: 413 over REST, ResourceExhausted over Connect", async () => {
    const big = { metadata: { name: "big", description: "x".repeat(4096) }, spec: { provider: "acme" } };
    const res = await fetch(`${service.url}/v1/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(big),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: number }).code).toBe(Code.ResourceExhausted);
    for (const protocol of ["connect+json", "connect+proto", "grpc"]) {
      const c = modelClient(service.url, token, protocol);
      await expectRpcCode(c.listModels({ workspaceId: ws, query: "x".repeat(4096) }), Code.ResourceExhausted);
    }
  });
});

describe("rate limit settings and buckets", () => {
  const base = { MODELSERVICE_DATA_DIR: "/tmp/modelservice-config-test", MODELSERVICE_JWT_SECRET: "s".repeat(32), MODELSERVICE_ENCRYPTION_KEY: "k".repeat(44) };

  it("is off unless MODELSERVICE_RATE_LIMIT_RPS is set; burst defaults to max(1, ceil(rps))", () => {
    expect(loadConfig(base).rateLimitRps).toBeUndefined();
    expect(loadConfig({ ...base, MODELSERVICE_RATE_LIMIT_RPS: "5" })).toMatchObject({ rateLimitRps: 5, rateLimitBurst: 5 });
    expect(loadConfig({ ...base, MODELSERVICE_RATE_LIMIT_RPS: "0.5" })).toMatchObject({ rateLimitRps: 0.5, rateLimitBurst: 1 });
    expect(loadConfig({ ...base, MODELSERVICE_RATE_LIMIT_RPS: "2", MODELSERVICE_RATE_LIMIT_BURST: "10" })).toMatchObject({ rateLimitBurst: 10 });
  });

  it.each([
    { MODELSERVICE_RATE_LIMIT_RPS: "0" },
    { MODELSERVICE_RATE_LIMIT_RPS: "-1" },
    { MODELSERVICE_RATE_LIMIT_RPS: "fast" },
    { MODELSERVICE_RATE_LIMIT_RPS: "2", MODELSERVICE_RATE_LIMIT_BURST: "0" },
    { MODELSERVICE_RATE_LIMIT_RPS: "2", MODELSERVICE_RATE_LIMIT_BURST: "1.5" },
    { MODELSERVICE_RATE_LIMIT_BURST: "3" },
    { MODELSERVICE_HEADERS_TIMEOUT_MS: "20000", MODELSERVICE_REQUEST_TIMEOUT_MS: "10000" },
    { MODELSERVICE_MAX_CONCURRENT_STREAMS: "0" },
  ])("refuses %o", (env) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
  });

  it("refills at rps, caps at burst, and keeps at most maxBuckets", () => {
    let now = 0;
    const buckets = new TokenBuckets({ rps: 2, burst: 3, maxBuckets: 2, now: () => now });
    expect([buckets.take("a"), buckets.take("a"), buckets.take("a")]).toEqual([0, 0, 0]);
    expect(buckets.take("a")).toBe(500);
    now = 250;
    expect(buckets.take("a")).toBe(250);
    now = 500;
    expect(buckets.take("a")).toBe(0);
    now = 100_000;
    expect([buckets.take("a"), buckets.take("a"), buckets.take("a"), buckets.take("a")]).toEqual([0, 0, 0, 500]);
    buckets.take("b");
    buckets.take("c");
    expect(buckets.size).toBe(2);
  });
});
