import { Code, ConnectError } from "@connectrpc/connect";
import { monotonicFactory } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { bundledCatalog } from "./support/catalog.js";
import { catalogCopyId } from "../src/storage/catalog-copy-id.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { openTestDatabase, openTestStores } from "./support/test-database.js";
import { EventLog, fromStream } from "./support/watch.js";

/**
 * Issue 17 item 7: a workspace's catalog is the shared system models plus
 * its own changes. Copies are rows only where a workspace wrote to them; ids
 * are derived from workspace and system model; old copy rows stay.
 */
const catalog = bundledCatalog();
let s: TestService;
let admin: ModelClient;
const streams: AbortController[] = [];

beforeAll(async () => {
  s = await startTestService({ MODELSERVICE_WATCH_BOOKMARK_SECONDS: "1" });
  admin = modelClient(s.url, await s.token("ws_overlay_admin"));
});
afterAll(async () => {
  for (const c of streams) c.abort();
  await s.dispose();
});

async function client(ws: string): Promise<ModelClient> {
  return modelClient(s.url, await s.token(ws));
}

async function listAll(c: ModelClient, request: { filter?: string; query?: string; orderBy?: string } = {}) {
  const items: Model[] = [];
  let cursor = "";
  let total = 0;
  do {
    const res = await c.listModels({ ...request, limit: 7, cursor });
    items.push(...res.items);
    total = res.pagination!.total ?? 0;
    cursor = res.pagination!.nextCursor;
  } while (cursor !== "");
  return { items, total };
}

/** A count read from the service's database, SQLite or PostgreSQL. */
async function count(sql: string, ...params: unknown[]): Promise<number> {
  const db = openTestDatabase(s.database, { readonly: true });
  try {
    const [row] = await db.all<{ n: number }>(sql, params);
    return Number(row!.n);
  } finally {
    await db.close();
  }
}

function rowsOf(ws: string): Promise<number> {
  return count("SELECT count(*) AS n FROM models WHERE workspace_id = ?", ws);
}

async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e).code;
  }
  throw new Error("expected the call to fail");
}

/** The system model of each catalog id. */
async function systemModels(): Promise<Map<string, Model>> {
  const res = await admin.listSystemModels({ limit: 1000 });
  return new Map(res.items.map((m) => [m.metadata!.catalogId!, m]));
}

describe("workspace catalogs as overlays", () => {
  it("admitting workspaces writes no model rows; each sees the whole catalog under ids derived from workspace and system model", async () => {
    const before = await count("SELECT count(*) AS n FROM models");
    const systems = await systemModels();
    const seen = new Set<string>();
    for (const ws of ["ws_overlay_a", "ws_overlay_b", "ws_overlay_c"]) {
      const { items, total } = await listAll(await client(ws));
      expect(total).toBe(catalog.length);
      expect(items).toHaveLength(catalog.length);
      for (const m of items) {
        const system = systems.get(m.metadata!.catalogId!)!;
        expect(m.metadata!.id).toBe(catalogCopyId(ws, system.metadata!.id));
        expect(m.metadata!.id).toMatch(/^model_[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(m.metadata!.workspaceId).toBe(ws);
        expect(m.spec!.status).toBe(ModelStatus.ENABLED);
        expect(m.metadata!.labels).toEqual({});
        expect(seen.has(m.metadata!.id)).toBe(false);
        seen.add(m.metadata!.id);
      }
      expect(await rowsOf(ws)).toBe(0);
    }
    expect(await count("SELECT count(*) AS n FROM models")).toBe(before);
    expect(await count("SELECT count(*) AS n FROM workspaces WHERE id LIKE 'ws_overlay_%'")).toBeGreaterThanOrEqual(3);
  });

  it("a copy id answers Get in its workspace only, and stays the same across a restart", async () => {
    const a = await client("ws_overlay_a");
    const first = (await a.listModels({ limit: 1 })).items[0]!;
    expect(await a.getModel({ id: first.metadata!.id })).toEqual(first);
    const b = await client("ws_overlay_b");
    expect(await codeOf(b.getModel({ id: first.metadata!.id }))).toBe(Code.NotFound);
    // The same system part under b's workspace part is b's copy.
    const system = (await systemModels()).get(first.metadata!.catalogId!)!;
    expect((await b.getModel({ id: catalogCopyId("ws_overlay_b", system.metadata!.id) })).metadata!.catalogId).toBe(first.metadata!.catalogId);
    // A well-formed id with a's workspace part and no system model behind it.
    expect(await codeOf(a.getModel({ id: first.metadata!.id.slice(0, 19) + "0000000000000" }))).toBe(Code.NotFound);

    await s.stop();
    await s.restart();
    admin = modelClient(s.url, await s.token("ws_overlay_admin"));
    const again = await client("ws_overlay_a");
    expect(await again.getModel({ id: first.metadata!.id })).toEqual(first);
    expect((await listAll(again)).items.map((m) => m.metadata!.id)).toContain(first.metadata!.id);
  });

  it("each write kind turns the copy into one row with the same id; the etag read from the virtual copy still compares", async () => {
    const ws = "ws_overlay_writes";
    const c = await client(ws);
    const [one, two] = (await c.listModels({ limit: 2 })).items;
    expect(await rowsOf(ws)).toBe(0);
    expect((await c.listModelRevisions({ id: one!.metadata!.id })).pagination!.total).toBe(0);

    const disabled = await c.disableModel({ id: one!.metadata!.id });
    expect(disabled.metadata!.id).toBe(one!.metadata!.id);
    expect(disabled.spec!.status).toBe(ModelStatus.DISABLED);
    expect(disabled.metadata!.etag).not.toBe(one!.metadata!.etag);
    expect(await rowsOf(ws)).toBe(1);
    expect((await c.listModelRevisions({ id: one!.metadata!.id })).pagination!.total).toBe(1);
    const enabled = await c.enableModel({ id: one!.metadata!.id });
    expect(enabled.spec!.status).toBe(ModelStatus.ENABLED);
    expect(await rowsOf(ws)).toBe(1);

    const labelled = await c.updateModel({
      id: two!.metadata!.id,
      model: { metadata: { labels: { team: "search" }, etag: two!.metadata!.etag } },
      updateMask: { paths: ["metadata.labels"] },
    });
    expect(labelled.metadata!.id).toBe(two!.metadata!.id);
    expect(labelled.metadata!.labels).toEqual({ team: "search" });
    expect(labelled.spec).toEqual({ ...two!.spec });
    expect(await rowsOf(ws)).toBe(2);
    expect(await c.getModel({ id: two!.metadata!.id })).toEqual(labelled);
    // The list shows the row, not a virtual copy beside it.
    const { items, total } = await listAll(c);
    expect(total).toBe(catalog.length);
    expect(items.filter((m) => m.metadata!.catalogId === two!.metadata!.catalogId)).toEqual([labelled]);
    expect((await listAll(c, { filter: 'metadata.labels.team = "search"' })).items.map((m) => m.metadata!.id)).toEqual([two!.metadata!.id]);
  });

  it("orders and pages a workspace's rows and virtual copies as one list", async () => {
    const ws = "ws_overlay_order";
    const c = await client(ws);
    const [copy] = (await c.listModels({ limit: 1, orderBy: "spec.inputPricePerMillionTokens desc" })).items;
    await c.updateModel({ id: copy!.metadata!.id, model: { metadata: { labels: { made: "row" } } }, updateMask: { paths: ["metadata.labels"] } });
    await c.createModel({ model: { metadata: { name: "Overlay Own gpt" }, spec: { provider: "acme", family: "own", inputPricePerMillionTokens: 123n } } });
    expect(await rowsOf(ws)).toBe(2);
    for (const request of [{ orderBy: "spec.inputPricePerMillionTokens desc, metadata.name" }, { orderBy: "metadata.name desc" }, { query: "gpt" }]) {
      const whole = (await c.listModels({ ...request, limit: 1000 })).items.map((m) => m.metadata!.id);
      const paged = await listAll(c, request);
      expect(paged.items.map((m) => m.metadata!.id), JSON.stringify(request)).toEqual(whole);
      expect(paged.total).toBe(whole.length);
    }
    const byPrice = (await listAll(c, { orderBy: "spec.inputPricePerMillionTokens desc, metadata.name" })).items;
    expect(byPrice).toHaveLength(catalog.length + 1);
    const prices = byPrice.map((m) => m.spec!.inputPricePerMillionTokens).filter((p) => p !== undefined);
    expect(prices).toEqual([...prices].sort((x, y) => Number(y! - x!)));
    expect(byPrice.slice(prices.length).every((m) => m.spec!.inputPricePerMillionTokens === undefined)).toBe(true);
    expect(byPrice.map((m) => m.metadata!.labels.made)).toContain("row");
    expect(byPrice.map((m) => m.metadata!.name)).toContain("Overlay Own gpt");
  });

  it("concurrent first writes to one virtual copy: one wins by etag, one row", async () => {
    const ws = "ws_overlay_race";
    const c = await client(ws);
    const target = (await c.listModels({ limit: 1 })).items[0]!;
    const write = (team: string) =>
      c.updateModel({ id: target.metadata!.id, model: { metadata: { labels: { team }, etag: target.metadata!.etag } }, updateMask: { paths: ["metadata.labels"] } });
    const outcomes = await Promise.allSettled([write("one"), write("two"), write("three")]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === "rejected") expect(ConnectError.from(o.reason).code).toBe(Code.Aborted);
    expect(await rowsOf(ws)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM models WHERE workspace_id = ? AND id = ?", ws, target.metadata!.id)).toBe(1);
    expect((await c.getModel({ id: target.metadata!.id })).metadata!.labels).toEqual((won[0] as PromiseFulfilledResult<Model>).value.metadata!.labels);
  });

  it("a catalog change reaches list, get and watch of an untouched workspace under its copy id, and a changed copy once", async () => {
    const untouched = await client("ws_overlay_watch");
    const changed = await client("ws_overlay_watch_row");
    const target = (await untouched.listModels({ limit: 1 })).items[0]!;
    const system = (await systemModels()).get(target.metadata!.catalogId!)!;
    const rowId = catalogCopyId("ws_overlay_watch_row", system.metadata!.id);
    await changed.disableModel({ id: rowId });
    const watches: EventLog[] = [];
    for (const c of [untouched, changed]) {
      const abort = new AbortController();
      streams.push(abort);
      const log = new EventLog(fromStream(c.watchModels({ sendInitialState: true }, { signal: abort.signal })));
      await log.until((e) => e.some((x) => x.type === "SYNCED"));
      expect(log.events.filter((x) => x.type === "ADDED")).toHaveLength(catalog.length);
      watches.push(log);
    }

    await admin.updateSystemModel({ id: system.metadata!.id, model: { metadata: { name: "Renamed by the platform" } }, updateMask: { paths: ["metadata.name"] } });
    const got = await untouched.getModel({ id: target.metadata!.id });
    expect(got.metadata!.name).toBe("Renamed by the platform");
    expect(got.metadata!.etag).not.toBe(target.metadata!.etag);
    expect((await listAll(untouched)).items.find((m) => m.metadata!.id === target.metadata!.id)?.metadata!.name).toBe("Renamed by the platform");
    expect(await rowsOf("ws_overlay_watch")).toBe(0);

    await watches[0]!.until((e) => e.some((x) => x.type === "MODIFIED"));
    expect(watches[0]!.changes().slice(catalog.length).map((e) => [e.type, e.id, e.name])).toEqual([["MODIFIED", target.metadata!.id, "Renamed by the platform"]]);
    await watches[1]!.until((e) => e.some((x) => x.type === "MODIFIED" && x.name === "Renamed by the platform"));
    // The workspace's own row (kept in step by inherit) is the only change: no second one for a virtual copy it no longer has.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watches[1]!.changes().slice(catalog.length).map((e) => [e.type, e.id, e.name])).toEqual([["MODIFIED", rowId, "Renamed by the platform"]]);
    const row = await changed.getModel({ id: rowId });
    expect([row.metadata!.name, row.spec!.status]).toEqual(["Renamed by the platform", ModelStatus.DISABLED]);

    // Replayed from the log after a resume token, the change is the same.
    const synced = watches[0]!.events.find((x) => x.type === "SYNCED")!.resumeToken;
    const abort = new AbortController();
    streams.push(abort);
    const replay = new EventLog(fromStream(untouched.watchModels({ resumeToken: synced }, { signal: abort.signal })));
    await replay.until((e) => e.some((x) => x.type === "MODIFIED"));
    expect(replay.changes().map((e) => [e.type, e.id, e.name])).toEqual([["MODIFIED", target.metadata!.id, "Renamed by the platform"]]);
  });

  it("a catalog model added later reaches existing workspaces as a virtual copy", async () => {
    const c = await client("ws_overlay_a");
    const created = await admin.createSystemModel({ model: { metadata: { name: "Overlay Added" }, spec: { provider: "acme", family: "overlay-added", visible: true } } });
    const copy = await c.getModel({ id: catalogCopyId("ws_overlay_a", created.metadata!.id) });
    expect(copy.metadata!.name).toBe("Overlay Added");
    expect((await listAll(c, { query: "overlay" })).items.map((m) => m.metadata!.id)).toEqual([copy.metadata!.id]);
    expect(await rowsOf("ws_overlay_a")).toBe(0);
  });
});

describe("a database with copy rows of the old layout", () => {
  const legacy = "ws_overlay_legacy";
  const ids = new Map<string, string>();

  beforeAll(async () => {
    // Copies as rows, made the way releases before overlays made them: random ids, one per system model.
    await s.stop();
    const stores = await openTestStores(s.database);
    const nextId = monotonicFactory();
    const now = Date.now();
    const workspace = await stores.models.createWorkspace({ id: legacy, accountId: "acct_test" }, now);
    const query = { workspaceId: null, limit: 1000, search: [], labels: [], showDeleted: false, showHidden: false, order: [], rankBySearch: false, descending: false, facets: false };
    const systems = (await stores.models.listModels(query)).models;
    for (const [i, system] of systems.entries()) {
      const id = "model_" + nextId();
      ids.set(system.catalogId!, id);
      await stores.models.insertModel({
        ...system,
        id,
        workspaceId: workspace.id,
        accountId: workspace.accountId,
        bundleKey: null,
        externalId: null,
        labels: i === 0 ? { tier: "gold" } : {},
        systemModelId: system.id,
        spec: { ...system.spec, priceOverride: null, upstreamChanged: null },
        credentials: { ...system.credentials, keyId: null, blob: null },
        status: i === 1 ? "MODEL_STATUS_DISABLED" : "MODEL_STATUS_ENABLED",
        version: 1,
        createdAt: now,
        updatedAt: now,
      });
    }
    await stores.models.close();
    await s.restart();
    admin = modelClient(s.url, await s.token("ws_overlay_admin"));
  });

  it("keeps every id, status and label, with no virtual copy beside them", async () => {
    const c = await client(legacy);
    const { items, total } = await listAll(c);
    expect(total).toBe(ids.size);
    expect(new Map(items.map((m) => [m.metadata!.catalogId, m.metadata!.id]))).toEqual(ids);
    const [first, second] = [...ids.values()];
    expect((await c.getModel({ id: first! })).metadata!.labels).toEqual({ tier: "gold" });
    expect((await c.getModel({ id: second! })).spec!.status).toBe(ModelStatus.DISABLED);
    // The derived id of a system model the workspace has a row for names nothing.
    const systems = await systemModels();
    const catalogId = [...ids.keys()][2]!;
    expect(await codeOf(c.getModel({ id: catalogCopyId(legacy, systems.get(catalogId)!.metadata!.id) }))).toBe(Code.NotFound);
    // Its rows still follow the catalog.
    const row = await c.getModel({ id: ids.get(catalogId)! });
    await admin.updateSystemModel({ id: systems.get(catalogId)!.metadata!.id, model: { spec: { maxOutputTokens: 1234 } }, updateMask: { paths: ["spec.max_output_tokens"] } });
    const after = await c.getModel({ id: row.metadata!.id });
    expect(after.spec!.maxOutputTokens).toBe(1234);
    expect(after.metadata!.id).toBe(row.metadata!.id);
  });

  it("lists, searches, filters and counts facets over rows exactly as over virtual copies", async () => {
    const rows = await client(legacy);
    const virtual = await client("ws_overlay_virtual_twin");
    const shape = (items: Model[]) =>
      items
        .map((m) => JSON.stringify([m.metadata!.catalogId, m.metadata!.name, m.spec!.provider, m.spec!.inputPricePerMillionTokens?.toString()]))
        .sort();
    const strip = (ms: Model[]) => ms.filter((m) => m.metadata!.catalogId !== [...ids.keys()][0] && m.metadata!.catalogId !== [...ids.keys()][1]);
    for (const request of [{}, { query: "gpt" }, { filter: 'spec.provider = "anthropic"' }, { filter: "spec.inputPricePerMillionTokens > 100" }]) {
      const a = await listAll(rows, request);
      const b = await listAll(virtual, request);
      expect(b.total, JSON.stringify(request)).toBeGreaterThan(0);
      expect(a.total, JSON.stringify(request)).toBe(b.total);
      expect(shape(strip(a.items))).toEqual(shape(strip(b.items)));
    }
    const facetsOf = async (c: ModelClient) =>
      (await c.listModels({ limit: 1, includeFacets: true })).facets.find((f) => f.field === "spec.provider")!.values.map((v) => [v.value, v.count]);
    expect(await facetsOf(rows)).toEqual(await facetsOf(virtual));
  });
});
