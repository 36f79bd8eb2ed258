import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { startTracing, type Tracing } from "../src/telemetry/tracing.js";
import { transports } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { testStore } from "./support/postgres.js";

/*
 * W3C trace context on every protocol: a call made with a `traceparent`
 * yields a server span that is its child and store spans that are the server
 * span's children, all in the caller's trace, and the call's log line
 * carries the trace id.
 */

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let service: TestService;
let token: string;
let modelId: string;

const getModel = "modelservice.v1.ModelService/GetModel";

function newTrace() {
  const traceId = randomBytes(16).toString("hex");
  const parentSpanId = randomBytes(8).toString("hex");
  return { traceId, parentSpanId, traceparent: `00-${traceId}-${parentSpanId}-01`, tracestate: "vendor=opaque" };
}

const inTrace = (traceId: string) => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);

/** The server span of `method` in the trace, checked to be the caller's child, and the store spans under it. */
function serverAndStoreSpans(t: ReturnType<typeof newTrace>, method: string): { server: ReadableSpan; store: ReadableSpan[] } {
  const spans = inTrace(t.traceId);
  const servers = spans.filter((span) => span.name === method);
  expect(servers).toHaveLength(1);
  const server = servers[0]!;
  expect(server.parentSpanContext?.spanId).toBe(t.parentSpanId);
  expect(server.parentSpanContext?.isRemote).toBe(true);
  expect(server.spanContext().traceState?.serialize()).toBe(t.tracestate);
  const store = spans.filter((span) => span.name.startsWith("ModelStore.") && span.parentSpanContext?.spanId === server.spanContext().spanId);
  return { server, store };
}

function callLine(traceId: string) {
  return service.logs.find((line) => line.msg === "call" && line.trace_id === traceId);
}

beforeAll(async () => {
  tracing = await startTracing(pino({ level: "silent" }), { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  service = await startTestService({}, { tracer: tracing.tracer });
  token = await service.token("ws_tracing");
  const client = createClient(ModelService, transports(service.url, token)[0]!.transport);
  modelId = (await client.listModels({ limit: 1 })).items[0]!.metadata!.id;
});
afterAll(async () => {
  await service?.dispose();
  await tracing?.shutdown();
});

describe("tracing", () => {
  for (const protocol of ["grpc", "grpc-web", "connect+proto", "connect+json GET"]) {
    it(`continues the caller's trace over ${protocol}: server span, store spans, log line`, async () => {
      const t = newTrace();
      const transport = transports(service.url, token).find((x) => x.name === protocol)!.transport;
      const model = await createClient(ModelService, transport).getModel(
        { id: modelId },
        { headers: { traceparent: t.traceparent, tracestate: t.tracestate } },
      );
      expect(model.metadata?.id).toBe(modelId);
      const { server, store } = serverAndStoreSpans(t, getModel);
      expect(server.attributes["rpc.method"]).toBe("GetModel");
      // The read cache may answer after only its change stamp: some store call is always made.
      expect(store.length).toBeGreaterThan(0);
      expect(store.every((span) => span.attributes["db.system.name"] === (testStore() === "postgres" ? "postgresql" : "sqlite"))).toBe(true);
      const line = callLine(t.traceId);
      expect(line?.method).toBe(getModel);
      expect(line?.span_id).toBe(server.spanContext().spanId);
    });
  }

  it("continues the caller's trace over REST", async () => {
    const t = newTrace();
    const res = await fetch(`${service.url}/v1/models/${modelId}`, {
      headers: { authorization: `Bearer ${token}`, traceparent: t.traceparent, tracestate: t.tracestate },
    });
    expect(res.status).toBe(200);
    const { store } = serverAndStoreSpans(t, getModel);
    expect(store.length).toBeGreaterThan(0);
    expect(callLine(t.traceId)).toBeDefined();
  });

  it("keeps a streamed response's store calls in the trace and ends its span with the stream", async () => {
    const t = newTrace();
    const res = await fetch(`${service.url}/v1/models:export`, {
      headers: { authorization: `Bearer ${token}`, traceparent: t.traceparent, tracestate: t.tracestate },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(modelId);
    const { server, store } = serverAndStoreSpans(t, "modelservice.v1.ModelService/ExportModels");
    expect(store.map((span) => span.name)).toContain("ModelStore.listModels");
    expect(store.every((span) => span.endTime[0] * 1e9 + span.endTime[1] <= server.endTime[0] * 1e9 + server.endTime[1])).toBe(true);
  });

  it("starts a new trace for a call without trace context, and records failures on the span", async () => {
    const before = new Set(exporter.getFinishedSpans().map((span) => span.spanContext().spanId));
    const res = await fetch(`${service.url}/v1/models/model_01J00000000000000000000000`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    const server = exporter.getFinishedSpans().find((span) => span.name === getModel && !before.has(span.spanContext().spanId));
    expect(server?.parentSpanContext).toBeUndefined();
    expect(server?.attributes["rpc.connect_rpc.error_code"]).toBe("not_found");
  });
});

describe("without a tracer (no exporter configured)", () => {
  let untraced: TestService;
  beforeAll(async () => {
    untraced = await startTestService();
  });
  afterAll(() => untraced?.dispose());

  it("leaves trace context alone: no spans, no trace fields", async () => {
    const off = await startTracing(pino({ level: "silent" }));
    expect(off.tracer).toBeUndefined();
    const t = newTrace();
    const res = await fetch(`${untraced.url}/v1/models?limit=1`, {
      headers: { authorization: `Bearer ${await untraced.token("ws_untraced")}`, traceparent: t.traceparent },
    });
    expect(res.status).toBe(200);
    expect(inTrace(t.traceId)).toEqual([]);
    const line = untraced.logs.filter((l) => l.msg === "call").at(-1);
    expect(line?.method).toBe("modelservice.v1.ModelService/ListModels");
    expect(line?.trace_id).toBeUndefined();
  });
});

describe("OTLP export", () => {
  it("sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT as OTLP/HTTP protobuf", async () => {
    const received: Array<{ path?: string; type?: string; body: Buffer }> = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ path: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const exporting = await startTracing(pino({ level: "silent" }));
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    const exported = await startTestService({}, { tracer: exporting.tracer });
    try {
      const t = newTrace();
      const res = await fetch(`${exported.url}/v1/models?limit=1`, {
        headers: { authorization: `Bearer ${await exported.token("ws_otlp")}`, traceparent: t.traceparent },
      });
      expect(res.status).toBe(200);
      await exporting.shutdown();
      expect(received.map((r) => [r.path, r.type])).toContainEqual(["/v1/traces", "application/x-protobuf"]);
      // The protobuf carries trace ids as raw bytes.
      expect(received.some((r) => r.body.includes(Buffer.from(t.traceId, "hex")))).toBe(true);
    } finally {
      await exported.dispose();
      collector.close();
    }
  });

  it("refuses an exporter it does not ship", async () => {
    process.env.OTEL_TRACES_EXPORTER = "zipkin";
    try {
      await expect(startTracing(pino({ level: "silent" }))).rejects.toThrow(/OTEL_TRACES_EXPORTER/);
    } finally {
      delete process.env.OTEL_TRACES_EXPORTER;
    }
  });
});
