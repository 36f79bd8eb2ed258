import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { request as httpRequest, get as httpGet, type IncomingMessage } from "node:http";
import { connect as connectHttp2, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, ConfigError } from "../src/config.js";
import { modelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue 14 items 2, 3 and 13a over the wire: calls are authenticated from
 * their headers before any body is read; JSON bodies have a nesting limit;
 * HTTP/2 streams whose request stalls are reset while long responses live
 * on; connections are capped; authenticated GETs are never cached.
 */

const ws = "ws_transport";
const createPath = "/modelservice.v1.ModelService/CreateModel";
/** A nested JSON text of about `bytes` bytes. */
const nested = (bytes: number) => '{"model":' + '{"a":'.repeat(bytes / 10) + "1" + "}".repeat(bytes / 10) + "}";

async function metricsText(service: TestService): Promise<string> {
  const res = await fetch(`${service.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the sample whose name and labels are exactly `series`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function h2Session(service: TestService): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(service.url);
    session.once("error", reject);
    session.once("remoteSettings", () => resolve(session));
  });
}

interface H2Outcome {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
  rstCode: number;
  ms: number;
}

/**
 * One raw HTTP/2 stream: sends the headers and `body`, and ends the request
 * only when `end` is set. Resolves when the stream closes, however it closes.
 */
function h2Stream(session: ClientHttp2Session, headers: Record<string, string>, body: Uint8Array, end: boolean): Promise<H2Outcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const stream = session.request({ ":method": "POST", ...headers }, { endStream: false });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => undefined);
    stream.on("close", () => resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks), rstCode: stream.rstCode ?? 0, ms: performance.now() - started }));
    if (body.byteLength > 0) stream.write(body);
    if (end) stream.end();
  });
}

/** A gRPC envelope header that promises `length` bytes of message. */
function envelopeHead(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}

/** An HTTP/1.1 request whose body never ends: resolves with the response (status and body) and then drops the connection. */
function http1Endless(service: TestService, path: string, headers: Record<string, string>, firstChunk: string): Promise<{ status: number; body: string; headers: IncomingMessage["headers"] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${service.url}${path}`, { method: "POST", headers: { ...headers, "transfer-encoding": "chunked" }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers });
        req.destroy();
      });
    });
    req.on("error", reject);
    req.write(firstChunk);
  });
}

describe("authentication before the body, and the JSON depth limit", () => {
  let service: TestService;
  let token: string;

  beforeAll(async () => {
    service = await startTestService();
    token = await service.token(ws);
  });
  afterAll(() => service.dispose());

  it("Connect JSON over HTTP/1.1: no token and a body that never ends is Unauthenticated, without waiting for the body", async () => {
    const res = await http1Endless(service, createPath, { "content-type": "application/json", "connect-protocol-version": "1" }, nested(64 * 1024));
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as { code: string }).code).toBe("unauthenticated");
    expect(res.headers["x-request-id"]).toBeTruthy();
  });

  it("gRPC-Web over HTTP/1.1: the same, as a grpc-status 16 trailer", async () => {
    const res = await http1Endless(service, createPath, { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, envelopeHead(2 << 20).toString("latin1") + "x".repeat(1000));
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/grpc-status: ?16\r\n/);
  });

  it("REST: the same, 401 before the body is read or validated", async () => {
    const res = await http1Endless(service, "/v1/models", { "content-type": "application/json", authorization: "Bearer not.a.token" }, nested(64 * 1024));
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as { code: number }).code).toBe(Code.Unauthenticated);
  });

  it("gRPC and Connect streaming over h2c: unauthenticated streams with endless bodies are answered and closed at once, 10 connections × 20 streams", async () => {
    const sessions = await Promise.all(Array.from({ length: 10 }, () => h2Session(service)));
    const partial = Buffer.concat([envelopeHead(2 << 20), Buffer.alloc(8 * 1024, 0x0a)]);
    const outcomes = await Promise.all(
      sessions.flatMap((session, s) =>
        Array.from({ length: 20 }, (_, i) =>
          (s + i) % 2 === 0
            ? h2Stream(session, { ":path": createPath, "content-type": "application/grpc", te: "trailers" }, partial, false)
            : h2Stream(
                session,
                { ":path": "/modelservice.v1.ModelService/ExportModels", "content-type": "application/connect+json", "connect-protocol-version": "1" },
                partial,
                false,
              ),
        ),
      ),
    );
    for (const o of outcomes) {
      expect(o.headers[":status"]).toBe(200);
      if (String(o.headers["content-type"]).startsWith("application/grpc")) {
        expect(o.trailers["grpc-status"] ?? o.headers["grpc-status"]).toBe(String(Code.Unauthenticated));
      } else {
        // The Connect end-stream message: flags 2, then {"error":{"code":"unauthenticated",…}}.
        expect(o.body[0]).toBe(2);
        expect(JSON.parse(o.body.subarray(5).toString("utf8"))).toMatchObject({ error: { code: "unauthenticated" } });
      }
    }
    for (const session of sessions) session.close();
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it("Connect GET: a message that is not even valid base64 is Unauthenticated without a token", async () => {
    const res = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels?connect=v1&encoding=json&base64=1&message=%%%not-base64`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });

  it("with a token, JSON nested deeper than MODELSERVICE_MAX_JSON_DEPTH (64) is InvalidArgument on Connect, Connect GET and REST", async () => {
    const deep = nested(2 * 1024 * 1024);
    const client = modelClient(service.url, token);
    const connect = await fetch(`${service.url}${createPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "connect-protocol-version": "1" },
      body: deep,
    });
    expect(connect.status).toBe(400);
    expect(await connect.json()).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("deeper than 64") });

    const message = encodeURIComponent('{"query":' + "[".repeat(100) + "]".repeat(100) + "}");
    const get = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels?connect=v1&encoding=json&message=${message}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(get.status).toBe(400);
    expect(await get.json()).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("deeper than 64") });

    const rest = await fetch(`${service.url}/v1/models`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: deep,
    });
    expect(rest.status).toBe(400);
    expect(await rest.json()).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("deeper than 64") });

    // Nesting within the limit is still read as usual.
    const model = await client.createModel({ model: { metadata: { name: "Shallow", labels: { a: "b" } }, spec: { provider: "acme" } } });
    expect(model.metadata?.name).toBe("Shallow");
  });

  it("authenticated GET answers are private and never stored (Connect GET and REST); public ones are left alone", async () => {
    const auth = { authorization: `Bearer ${token}` };
    const connectGet = await fetch(`${service.url}/modelservice.v1.ModelService/ListModels?connect=v1&encoding=json&message=${encodeURIComponent('{"limit":1}')}`, { headers: auth });
    expect(connectGet.status).toBe(200);
    expect(connectGet.headers.get("cache-control")).toBe("private, no-store");
    const restGet = await fetch(`${service.url}/v1/models?limit=1`, { headers: auth });
    expect(restGet.status).toBe(200);
    expect(restGet.headers.get("cache-control")).toBe("private, no-store");
    const id = ((await restGet.json()) as { items: Array<{ metadata: { id: string } }> }).items[0]!.metadata.id;
    const one = await fetch(`${service.url}/v1/models/${id}`, { headers: auth });
    expect(one.headers.get("cache-control")).toBe("private, no-store");
    // A revalidation answer (304) is the token's too.
    const again = await fetch(`${service.url}/v1/models/${id}`, { headers: { ...auth, "if-none-match": one.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toBe("private, no-store");
    expect((await fetch(`${service.url}/healthz`)).headers.get("cache-control")).toBeNull();
  });
});

describe("HTTP/2 stream timeouts", () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      MODELSERVICE_HEADERS_TIMEOUT_MS: "300",
      MODELSERVICE_REQUEST_TIMEOUT_MS: "1000",
      MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES: String(100 * 4096),
    });
  });
  afterAll(() => service.dispose());

  it("resets a stream whose request body stalls after MODELSERVICE_REQUEST_TIMEOUT_MS, and counts it", async () => {
    const before = sample(await metricsText(service), "modelservice_stream_timeouts_total");
    const session = await h2Session(service);
    session.on("error", () => undefined);
    // Health/Check is open without a token: its body is read, and never completes.
    const partial = Buffer.concat([envelopeHead(1000), Buffer.alloc(10)]);
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => h2Stream(session, { ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" }, partial, false)),
    );
    for (const o of outcomes) {
      expect(o.rstCode).toBe(h2.NGHTTP2_CANCEL);
      expect(o.ms).toBeGreaterThanOrEqual(900);
      expect(o.ms).toBeLessThan(5_000);
    }
    session.close();
    expect(sample(await metricsText(service), "modelservice_stream_timeouts_total") - before).toBe(5);
  });

  it("keeps a server stream whose request is complete open past the timeout (a quiet health Watch)", async () => {
    const session = await h2Session(service);
    const request = Buffer.concat([envelopeHead(0)]);
    const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
    stream.end(request);
    let closed = false;
    stream.on("close", () => (closed = true));
    const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    expect(first.length).toBeGreaterThan(5);
    await sleep(1_500);
    expect(closed).toBe(false);
    stream.close();
    session.close();
  });

  it("announces each stream's share of MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES as its flow-control window", async () => {
    const session = connectHttp2(service.url);
    const settings = await new Promise<{ initialWindowSize?: number; maxConcurrentStreams?: number }>((resolve) => session.once("remoteSettings", resolve));
    expect(settings.maxConcurrentStreams).toBe(100);
    expect(settings.initialWindowSize).toBe(4096);
    session.close();
  });
});

describe("connection caps", () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ MODELSERVICE_MAX_CONNECTIONS: "4", MODELSERVICE_MAX_CONNECTIONS_PER_CLIENT: "2" });
  });
  afterAll(() => service.dispose());

  /** A connection from a loopback address; resolves once connected, with whether the server closes it within 500 ms. */
  function open(localAddress: string): Promise<{ socket: Socket; refused: boolean }> {
    return new Promise((resolve) => {
      const socket = connectTcp({ host: "127.0.0.1", port: service.port, localAddress });
      socket.on("error", () => undefined);
      socket.once("connect", () => {
        const timer = setTimeout(() => resolve({ socket, refused: false }), 500);
        socket.once("close", () => {
          clearTimeout(timer);
          resolve({ socket, refused: true });
        });
      });
    });
  }

  function metricsFrom(localAddress: string): Promise<string> {
    return new Promise((resolve, reject) => {
      httpGet(`${service.url}/metrics`, { localAddress, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve(text));
      }).on("error", reject);
    });
  }

  it("refuses connections over the per-client and the total cap, and shows them in /metrics", async () => {
    const a1 = await open("127.0.0.1");
    const a2 = await open("127.0.0.1");
    const a3 = await open("127.0.0.1");
    const b1 = await open("127.0.0.2");
    const c1 = await open("127.0.0.3");
    const d1 = await open("127.0.0.4");
    expect([a1.refused, a2.refused, a3.refused, b1.refused, c1.refused, d1.refused]).toEqual([false, false, true, false, false, true]);

    c1.socket.destroy();
    await sleep(100);
    const text = await metricsFrom("127.0.0.3");
    // a1, a2, b1 and the connection asking for the metrics.
    expect(sample(text, "modelservice_open_connections")).toBe(4);
    expect(sample(text, "modelservice_rejected_connections_total")).toBe(2);

    for (const c of [a1, a2, b1]) c.socket.destroy();
    await sleep(100);
    // Freed slots take new connections again.
    const res = await fetch(`${service.url}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe("transport settings", () => {
  const base = { MODELSERVICE_DATA_DIR: "/tmp/modelservice-config-test", MODELSERVICE_JWT_SECRET: "s".repeat(32), MODELSERVICE_ENCRYPTION_KEY: "k".repeat(44) };

  it("have defaults", () => {
    expect(loadConfig(base)).toMatchObject({ maxConnections: 1024, maxConnectionsPerClient: 128, maxConnectionBufferBytes: 8 * 1024 * 1024, maxJsonDepth: 64 });
  });

  it.each([
    { MODELSERVICE_MAX_CONNECTIONS: "0" },
    { MODELSERVICE_MAX_CONNECTIONS_PER_CLIENT: "-1" },
    { MODELSERVICE_MAX_JSON_DEPTH: "2" },
    { MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES: "50000" },
    { MODELSERVICE_MAX_CONCURRENT_STREAMS: "200", MODELSERVICE_MAX_CONNECTION_BUFFER_BYTES: "100000" },
  ])("refuses %o", (env) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
  });
});

