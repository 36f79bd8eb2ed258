import { afterAll, beforeAll, expect, it } from "vitest";
import { createModelResolver, WatchEventType, type ModelChange, type ModelResolver } from "../src/client/model-resolver.js";
import { modelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/** Issue 16: the resolver (modelservice/client) keeps a live copy, serves it while the server is gone, and catches up. */
let s: TestService;
const resolvers: ModelResolver[] = [];

beforeAll(async () => {
  s = await startTestService();
});
afterAll(async () => {
  for (const r of resolvers) r.close();
  await s.dispose();
});

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.now() - started;
}

it("lists, then follows: a write is visible in get() within 200 ms; lookups by external and catalog id", async () => {
  const token = await s.token("ws_resolver");
  const c = modelClient(s.url, token);
  const existing = await c.createModel({ model: { metadata: { name: "existing", externalId: "ext-existing" }, spec: { family: "f" } } });
  const resolver = createModelResolver({ baseUrl: s.url, token });
  resolvers.push(resolver);
  const initial: ModelChange[] = [];
  const stopInitial = resolver.on("change", (change) => initial.push(change));
  await resolver.ready();
  stopInitial();
  const changes: ModelChange[] = [];
  resolver.on("change", (change) => changes.push(change));
  expect(resolver.status()).toMatchObject({ synced: true, stale: false });
  expect(resolver.get(existing.metadata!.id)?.metadata?.name).toBe("existing");
  expect(resolver.byExternalId("ext-existing")?.metadata?.id).toBe(existing.metadata!.id);
  const listed = await c.listModels({ limit: 1000 });
  expect(resolver.list().length).toBe(listed.items.length);
  // The first snapshot arrives as ADDED changes.
  expect(initial.length).toBe(listed.items.length);
  const catalogCopy = listed.items.find((m) => m.metadata?.catalogId)!;
  expect(resolver.byCatalogId(catalogCopy.metadata!.catalogId!)?.metadata?.id).toBe(catalogCopy.metadata!.id);

  const m = await c.createModel({ model: { metadata: { name: "fresh" }, spec: { family: "f" } } });
  const elapsed = await eventually(() => resolver.get(m.metadata!.id) !== undefined, 1000);
  expect(elapsed).toBeLessThan(200);
  await c.updateModel({ id: m.metadata!.id, model: { metadata: { name: "renamed" } }, updateMask: { paths: ["metadata.name"] } });
  await eventually(() => resolver.get(m.metadata!.id)?.metadata?.name === "renamed");
  await c.deleteModel({ id: m.metadata!.id });
  await eventually(() => resolver.get(m.metadata!.id) === undefined);
  expect(changes.map((x) => WatchEventType[x.type])).toEqual(["ADDED", "MODIFIED", "DELETED"]);
  expect(resolver.list((x) => x.metadata?.name === "existing").length).toBe(1);
});

it("with the server gone it serves its snapshot and reports stale; on restart it catches up", async () => {
  const token = await s.token("ws_resolver_restart");
  const c = modelClient(s.url, token);
  const kept = await c.createModel({ model: { metadata: { name: "kept" }, spec: { family: "f" } } });
  const resolver = createModelResolver({ baseUrl: s.url, token, protocol: "grpc-web", backoff: { initialMs: 20, maxMs: 200 } });
  resolvers.push(resolver);
  await resolver.ready();
  await s.stop();
  await eventually(() => resolver.status().stale);
  expect(resolver.get(kept.metadata!.id)?.metadata?.name).toBe("kept");
  await s.restart();
  const added = await modelClient(s.url, token).createModel({ model: { metadata: { name: "while-reconnecting" }, spec: { family: "f" } } });
  await eventually(() => resolver.get(added.metadata!.id) !== undefined && !resolver.status().stale, 10_000);
  expect(resolver.status().reconnects).toBeGreaterThan(0);
  expect(resolver.status().resumeToken).not.toBe("");
});

it("ready() rejects when the service refuses the token", async () => {
  const resolver = createModelResolver({ baseUrl: s.url, token: "not-a-jwt", backoff: { initialMs: 1000, maxMs: 1000 } });
  resolvers.push(resolver);
  await expect(resolver.ready()).rejects.toMatchObject({ code: 16 });
  expect(resolver.status().synced).toBe(false);
});
