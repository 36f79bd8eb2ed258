import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, transports, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { EventLog, fromStream, sseSeen } from "./support/watch.js";

/**
 * Issue 16: WatchModels over every protocol — each event type, the filter
 * (a model leaving it is DELETED), workspace isolation, system models shown
 * and hidden, and the bulk write paths.
 */
let s: TestService;
const streams: AbortController[] = [];

beforeAll(async () => {
  s = await startTestService({ MODELSERVICE_WATCH_BOOKMARK_SECONDS: "1" });
});
afterAll(async () => {
  for (const c of streams) c.abort();
  await s.dispose();
});

type Protocol = "grpc" | "connect+json" | "connect+proto" | "grpc-web" | "sse";

/** A watch over a protocol: RPC transports through connect-node, SSE through fetch. */
async function watch(protocol: Protocol, token: string, request: { filter?: string; resumeToken?: string; sendInitialState?: boolean } = {}): Promise<EventLog> {
  const abort = new AbortController();
  streams.push(abort);
  if (protocol === "sse") {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(request)) query.set(k, String(v));
    const res = await fetch(`${s.url}/v1/models:watch?${query}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    return new EventLog(sseSeen(res));
  }
  const client = modelClient(s.url, token, protocol);
  const log = new EventLog(fromStream(client.watchModels(request, { signal: abort.signal })));
  return log;
}

async function newModel(c: ModelClient, name: string, provider = "acme") {
  return c.createModel({ model: { metadata: { name }, spec: { family: "f", provider } } });
}

const protocols: Protocol[] = ["grpc", "connect+json", "connect+proto", "grpc-web", "sse"];

describe.each(protocols)("WatchModels over %s", (protocol) => {
  it("sends the initial state, SYNCED, then ADDED, MODIFIED, DELETED, UNDELETED, PURGED and BOOKMARK", async () => {
    const ws = `ws_events_${protocol.replace(/[^a-z]/g, "")}`;
    const token = await s.token(ws);
    const c = modelClient(s.url, token);
    const before = await newModel(c, "existing");
    const log = await watch(protocol, token, { sendInitialState: true });
    await log.until((e) => e.some((x) => x.type === "SYNCED"));
    const initial = log.events.slice(0, log.events.findIndex((x) => x.type === "SYNCED"));
    expect(initial.every((x) => x.type === "ADDED" && x.resumeToken === "")).toBe(true);
    expect(initial.map((x) => x.id)).toContain(before.metadata!.id);
    // The initial state is what ListModels shows.
    const listed = await c.listModels({ limit: 1000 });
    expect(initial.map((x) => x.id).sort()).toEqual(listed.items.map((m) => m.metadata!.id).sort());

    const m = await newModel(c, "watched");
    const id = m.metadata!.id;
    await c.updateModel({ id, model: { spec: { family: "g" } }, updateMask: { paths: ["spec.family"] } });
    await c.deleteModel({ id });
    await c.undeleteModel({ id });
    await c.deleteModel({ id });
    // Purged for good: the purge runs on the service's schedule, here called directly.
    await s.running.store.purgeDeleted(Date.now() + 365 * 24 * 3600 * 1000);
    await log.until((e) => e.some((x) => x.type === "PURGED"));
    const ofModel = log.changes().filter((x) => x.id === id);
    expect(ofModel.map((x) => x.type)).toEqual(["ADDED", "MODIFIED", "DELETED", "UNDELETED", "DELETED", "PURGED"]);
    // Tokens are distinct and opaque.
    expect(new Set(ofModel.map((x) => x.resumeToken)).size).toBe(ofModel.length);
    await log.until((e) => e.at(-1)?.type === "BOOKMARK", 4000);
    expect(log.events.at(-1)!.resumeToken).not.toBe("");
  });
});

describe("WatchModels views", () => {
  it("the filter: a model entering it is ADDED, leaving it DELETED; other models are not seen", async () => {
    const token = await s.token("ws_filter");
    const c = modelClient(s.url, token);
    const log = await watch("grpc", token, { filter: 'spec.provider = "acme" AND labels.tier = "gold"' });
    await new Promise((r) => setTimeout(r, 100));
    const outside = await newModel(c, "never-matches", "other");
    const m = await newModel(c, "enters-later");
    const id = m.metadata!.id;
    await c.updateModel({ id, model: { metadata: { labels: { tier: "gold" } } }, updateMask: { paths: ["metadata.labels"] } });
    await c.updateModel({ id, model: { spec: { description: "still gold" } }, updateMask: { paths: ["spec.description"] } });
    await c.updateModel({ id, model: { metadata: { labels: { tier: "silver" } } }, updateMask: { paths: ["metadata.labels"] } });
    await c.updateModel({ id: outside.metadata!.id, model: { spec: { description: "x" } }, updateMask: { paths: ["spec.description"] } });
    await log.until((e) => e.filter((x) => x.id === id).length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(log.changes().map((x) => `${x.type}:${x.name}`)).toEqual(["ADDED:enters-later", "MODIFIED:enters-later", "DELETED:enters-later"]);
  });

  it("workspaces are isolated", async () => {
    const [tokenA, tokenB] = await Promise.all([s.token("ws_iso_a"), s.token("ws_iso_b")]);
    const a = await watch("connect+json", tokenA);
    const b = await watch("connect+json", tokenB);
    await new Promise((r) => setTimeout(r, 100));
    await newModel(modelClient(s.url, tokenA), "only-in-a");
    await newModel(modelClient(s.url, tokenB), "only-in-b");
    await a.until((e) => e.some((x) => x.name === "only-in-a"));
    await b.until((e) => e.some((x) => x.name === "only-in-b"));
    await new Promise((r) => setTimeout(r, 100));
    expect(a.changes().map((x) => x.name)).toEqual(["only-in-a"]);
    expect(b.changes().map((x) => x.name)).toEqual(["only-in-b"]);
    // A token cannot watch another workspace.
    const other = modelClient(s.url, tokenA).watchModels({ workspaceId: "ws_iso_b" });
    await expect(other[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("system models: a new one is ADDED, an edit MODIFIED, hiding it DELETED, showing it again ADDED, in every workspace", async () => {
    const tokens = await Promise.all([s.token("ws_sys_a"), s.token("ws_sys_b")]);
    const logs = await Promise.all(tokens.map((t) => watch("grpc", t)));
    await new Promise((r) => setTimeout(r, 100));
    const admin = modelClient(s.url, tokens[0]);
    const sys = await admin.createSystemModel({ model: { metadata: { name: "platform-model" }, spec: { family: "p", provider: "plat", visible: true } } });
    const id = sys.metadata!.id;
    await admin.updateSystemModel({ id, model: { spec: { inputPricePerMillionTokens: 123n } }, updateMask: { paths: ["spec.input_price_per_million_tokens"] } });
    await admin.updateSystemModel({ id, model: { spec: { visible: false } }, updateMask: { paths: ["spec.visible"] } });
    await admin.updateSystemModel({ id, model: { spec: { visible: true } }, updateMask: { paths: ["spec.visible"] } });
    for (const log of logs) {
      await log.until((e) => e.filter((x) => x.name === "platform-model").length === 4);
      expect(log.changes().map((x) => x.type)).toEqual(["ADDED", "MODIFIED", "DELETED", "ADDED"]);
    }
  });

  it("bulk paths: batch create, bundle apply and CSV import each produce their events", async () => {
    const token = await s.token("ws_bulk");
    const c = modelClient(s.url, token);
    const log = await watch("connect+proto", token);
    await new Promise((r) => setTimeout(r, 100));
    await c.batchCreateModels({ requests: [1, 2, 3].map((i) => ({ model: { metadata: { name: `batch-${i}` }, spec: { family: "f" } } })) });
    await c.applyBundle({ bundleKey: "b1", models: [{ metadata: { name: "bundled", externalId: "ext-bundled" }, spec: { family: "f" } }] });
    const csv = `name,externalId,family\nimported,ext-imported,f\n`;
    await c.importModels({ csv: { contentType: "text/csv", data: new TextEncoder().encode(csv) } });
    await log.until((e) => ["batch-1", "batch-2", "batch-3", "bundled", "imported"].every((n) => e.some((x) => x.name === n && x.type === "ADDED")));
  });

  it("a bad filter or token is InvalidArgument before the stream starts; REST answers 400", async () => {
    const token = await s.token("ws_bad");
    const c = modelClient(s.url, token, "grpc");
    for (const req of [{ filter: "spec.provider =" }, { resumeToken: "not-a-token" }]) {
      const error = await c.watchModels(req)[Symbol.asyncIterator]().next().then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(error?.code).toBe(Code.InvalidArgument);
    }
    const res = await fetch(`${s.url}/v1/models:watch?resumeToken=nope`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/resumeToken/);
  });

  it("also serves HTTP/2 connect and gRPC-Web clients", async () => {
    const token = await s.token("ws_h2");
    for (const name of ["connect+json h2c", "grpc-web h2c"]) {
      const transport = transports(s.url, token).find((t) => t.name === name)!.transport;
      const abort = new AbortController();
      streams.push(abort);
      const log = new EventLog(fromStream(createClient(ModelService, transport).watchModels({ sendInitialState: true }, { signal: abort.signal })));
      await log.until((e) => e.some((x) => x.type === "SYNCED"));
    }
  });
});

describe("/metrics", () => {
  it("shows the watches open, the messages sent by type and the commit-to-send lag", async () => {
    const metric = async (name: string) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{") && !l.startsWith("#"));
      // A series not yet incremented may not be listed at all.
      return Number(line?.split(" ").pop() ?? 0);
    };
    const token = await s.token("ws_metrics");
    const before = await metric('modelservice_watch_events_total{type="added"}');
    const log = await watch("grpc", token);
    await log.until((e) => e.length > 0);
    const open = await metric("modelservice_watchers");
    expect(open).toBeGreaterThanOrEqual(1);
    await newModel(modelClient(s.url, token), "measured");
    await log.until((e) => e.some((x) => x.name === "measured"));
    expect(await metric('modelservice_watch_events_total{type="added"}')).toBe(before + 1);
    expect(await metric("modelservice_watch_lag_seconds_count")).toBeGreaterThan(0);
    streams.at(-1)!.abort();
    await log.endedWith();
    await new Promise((r) => setTimeout(r, 50));
    expect(await metric("modelservice_watchers")).toBe(open - 1);
  });
});
