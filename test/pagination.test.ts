import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import type { ListModelsRequest, ListModelsResponse } from "../gen/modelservice/v1/model_service_pb.js";
import type { ModelRecord } from "../src/storage/model-store.js";
import { bundledCatalog } from "./support/catalog.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { workspaceModelRecord } from "./support/model-records.js";
import { startTestService, type TestService } from "./support/service.js";

type ListParams = Partial<Omit<ListModelsRequest, "$typeName" | "$unknown">>;

let service: TestService;
const catalog = bundledCatalog();

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

/** A client for a workspace; the first call creates the workspace with its catalog copies. */
async function workspace(id: string): Promise<ModelClient> {
  const client = modelClient(service.url, await service.token(id));
  await client.listModels({ limit: 1 });
  return client;
}

let rowCounter = 0;

/** A full ModelRecord of a workspace's own model, inserted through the store. */
async function insertRow(workspaceId: string, overrides: Partial<ModelRecord> = {}): Promise<ModelRecord> {
  const now = Date.now();
  rowCounter++;
  const { spec, ...rest } = overrides;
  const record = workspaceModelRecord(workspaceId, `Custom Row ${rowCounter}`, now, { ...rest, spec: { family: `custom-row-${rowCounter}`, ...spec } });
  await service.running.store.insertModel(record);
  return record;
}

function idOf(m: Model): string {
  return m.metadata!.id;
}

function createdMs(m: Model): number {
  return timestampMs(m.metadata!.createdAt!);
}

/** True when a comes strictly before b in ascending (createdAt, id) order. */
function ascBefore(a: Model, b: Model): boolean {
  const ca = createdMs(a);
  const cb = createdMs(b);
  return ca < cb || (ca === cb && idOf(a) < idOf(b));
}

function expectOrdered(items: Model[], descending: boolean): void {
  for (let i = 1; i < items.length; i++) {
    const [prev, next] = [items[i - 1]!, items[i]!];
    const ok = descending ? ascBefore(next, prev) : ascBefore(prev, next);
    expect(ok, `item ${i} (${idOf(next)}) is out of ${descending ? "desc" : "asc"} order after ${idOf(prev)}`).toBe(true);
  }
}

/**
 * Walks every page of a list. `between(pageIndex, itemsSoFar)` runs after each
 * page that has a next cursor, before the next page is fetched.
 */
async function walk(
  client: ModelClient,
  params: ListParams,
  between?: (pageIndex: number, soFar: Model[]) => Promise<void>,
): Promise<{ pages: ListModelsResponse[]; items: Model[] }> {
  const pages: ListModelsResponse[] = [];
  const items: Model[] = [];
  let cursor = "";
  for (let i = 0; i < 10_000; i++) {
    const page = await client.listModels({ ...params, cursor });
    pages.push(page);
    items.push(...page.items);
    cursor = page.pagination?.nextCursor ?? "";
    if (cursor === "") return { pages, items };
    await between?.(i, items);
  }
  throw new Error("the list never ended");
}

async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!outcome) throw new Error("the call succeeded, but an error was expected");
  return outcome;
}

async function expectInvalidArgument(call: Promise<unknown>): Promise<ConnectError> {
  const err = await errorOf(call);
  expect(err.code, err.message).toBe(Code.InvalidArgument);
  return err;
}

function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

/** Flips one character in the middle of a string, never the "." separator. */
function tamper(cursor: string, at = Math.floor(cursor.length / 2)): string {
  let i = at;
  while (cursor[i] === ".") i++;
  const replacement = cursor[i] === "A" ? "B" : "A";
  return cursor.slice(0, i) + replacement + cursor.slice(i + 1);
}

describe("walking every page at limit 7", () => {
  let client: ModelClient;
  const wsId = "ws_page_walk";

  beforeAll(async () => {
    client = await workspace(wsId);
    const base = Date.now();
    // Rows whose creation time disagrees with id order (newer ids, older
    // createdAt), and rows sharing one createdAt, so that the order is really
    // by createdAt first and id second.
    await insertRow(wsId, { createdAt: base - 60_000, updatedAt: base - 60_000 });
    await insertRow(wsId, { createdAt: base - 120_000, updatedAt: base - 120_000 });
    await insertRow(wsId, { createdAt: base + 5_000, updatedAt: base + 5_000 });
    await insertRow(wsId, { createdAt: base + 5_000, updatedAt: base + 5_000 });
    await insertRow(wsId, { createdAt: base + 5_000, updatedAt: base + 5_000 });
  });

  it.each([
    ["asc", false],
    ["desc", true],
  ] as const)("%s: each item once, count == total, last page has no cursor, ordered by createdAt then id", async (sortOrder, descending) => {
    const { pages, items } = await walk(client, { limit: 7, sortOrder });
    const total = pages[0]!.pagination!.total!;
    expect(total).toBe(catalog.length + 5);
    for (const page of pages) {
      expect(page.pagination?.total).toBe(total);
      expect(page.items.length).toBeLessThanOrEqual(7);
    }
    for (const page of pages.slice(0, -1)) {
      expect(page.items).toHaveLength(7);
      expect(page.pagination?.nextCursor).not.toBe("");
    }
    expect(pages.at(-1)!.pagination?.nextCursor ?? "").toBe("");
    expect(pages).toHaveLength(Math.ceil(total / 7));
    const ids = items.map(idOf);
    expect(duplicates(ids)).toEqual([]);
    expect(ids).toHaveLength(total);
    expectOrdered(items, descending);
    for (const m of items) expect(m.metadata?.workspaceId).toBe(wsId);
  });

  it("desc is exactly the reverse of asc", async () => {
    const asc = (await walk(client, { limit: 7 })).items.map(idOf);
    const desc = (await walk(client, { limit: 7, sortOrder: "desc" })).items.map(idOf);
    expect(desc).toEqual([...asc].reverse());
  });

  it("a walk at limit 7 returns the same sequence as one big page", async () => {
    const whole = await client.listModels({ limit: 1000 });
    expect(whole.pagination?.nextCursor ?? "").toBe("");
    const walked = (await walk(client, { limit: 7 })).items.map(idOf);
    expect(walked).toEqual(whole.items.map(idOf));
  });
});

describe("rows change between pages", () => {
  it.each([
    ["asc", false],
    ["desc", true],
  ] as const)("%s: disable/enable and inserts between pages: nothing twice, nothing that existed throughout skipped", async (sortOrder, descending) => {
    const wsId = `ws_page_mutate_${sortOrder}`;
    const client = await workspace(wsId);
    const before = (await client.listModels({ limit: 1000, sortOrder })).items.map(idOf);
    expect(before.length).toBe(catalog.length);
    const notYetReturned = (soFar: Model[]) => {
      const returned = new Set(soFar.map(idOf));
      return before.filter((id) => !returned.has(id));
    };
    const touched: string[] = [];
    const inserted: string[] = [];

    const { items } = await walk(client, { limit: 7, sortOrder }, async (page, soFar) => {
      if (page === 0 || page === 2 || page === 4) {
        // Disable two models already returned and two not yet returned.
        const returned = soFar.map(idOf);
        const ahead = notYetReturned(soFar);
        for (const id of [returned[0]!, returned.at(-1)!, ahead[0]!, ahead[3]!]) {
          await client.disableModel({ id });
          touched.push(id);
        }
        for (let i = 0; i < 3; i++) inserted.push((await insertRow(wsId)).id);
      } else if (page === 1 || page === 3 || page === 5) {
        // Re-enable what was disabled, and insert more rows.
        for (const id of touched) await client.enableModel({ id });
        inserted.push((await insertRow(wsId)).id);
        // An old row (before every cursor position in asc order, after it in desc).
        const old = Date.now() - 3_600_000;
        inserted.push((await insertRow(wsId, { createdAt: old, updatedAt: old })).id);
      }
    });

    const ids = items.map(idOf);
    expect(duplicates(ids)).toEqual([]);
    const returned = new Set(ids);
    expect(before.filter((id) => !returned.has(id))).toEqual([]);
    expect(touched.length).toBeGreaterThan(0);
    expect(inserted.length).toBeGreaterThan(0);
    expectOrdered(items, descending);
  });

  it("a status-filtered walk: models enabled throughout are all returned once while others flip", async () => {
    const wsId = "ws_page_mutate_status";
    const client = await workspace(wsId);
    const all = (await client.listModels({ limit: 1000 })).items.map(idOf);
    // Models 10..19 flip between pages; everything else stays enabled throughout.
    const flipping = all.slice(10, 20);
    const stable = all.filter((id) => !flipping.includes(id));
    let disabled = false;
    const { items } = await walk(client, { limit: 50, status: ModelStatus.ENABLED }, async () => {
      for (const id of flipping) await (disabled ? client.enableModel({ id }) : client.disableModel({ id }));
      disabled = !disabled;
      await insertRow(wsId);
      await insertRow(wsId, { status: "MODEL_STATUS_DISABLED" });
    });
    const ids = items.map(idOf);
    expect(duplicates(ids)).toEqual([]);
    const returned = new Set(ids);
    expect(stable.filter((id) => !returned.has(id))).toEqual([]);
    for (const m of items) expect(m.spec?.status).toBe(ModelStatus.ENABLED);
    expectOrdered(items, false);
  });
});

describe("filters", () => {
  const wsId = "ws_page_filters";
  let client: ModelClient;
  const rows: Record<string, ModelRecord> = {};

  beforeAll(async () => {
    client = await workspace(wsId);
    rows.a = await insertRow(wsId, {
      name: "Zephyr Alpha",
      externalId: "ext-alpha-1",
      bundleKey: "bundle-main",
      labels: { env: "prod", team: "ai" },
    });
    rows.b = await insertRow(wsId, {
      name: "Zephyr Beta",
      externalId: "ext-alpha-2",
      bundleKey: "bundle-main",
      labels: { env: "prod", team: "web" },
    });
    rows.c = await insertRow(wsId, {
      name: "Quasar Gamma",
      externalId: "EXT-beta-1",
      bundleKey: "bundle-main",
      labels: { env: "dev", team: "ai" },
    });
    rows.d = await insertRow(wsId, {
      name: "Quasar Delta",
      externalId: "other-1",
      bundleKey: "bundle-side",
      labels: { env: "prod", team: "ai", tier: "gold" },
    });
  });

  const ids = (res: ListModelsResponse) => res.items.map(idOf).sort();
  const rowIds = (...names: string[]) => names.map((n) => rows[n]!.id).sort();

  it("status: MODEL_STATUS_DISABLED after disabling 3 models gives exactly those 3, total 3", async () => {
    const wsStatus = "ws_page_status";
    const c = await workspace(wsStatus);
    const all = (await c.listModels({ limit: 1000 })).items.map(idOf);
    const chosen = [all[3]!, all[17]!, all[40]!];
    for (const id of chosen) await c.disableModel({ id });
    const res = await c.listModels({ status: ModelStatus.DISABLED });
    expect(res.pagination?.total).toBe(3);
    expect(res.items.map(idOf).sort()).toEqual([...chosen].sort());
    for (const m of res.items) expect(m.spec?.status).toBe(ModelStatus.DISABLED);
    const enabled = await c.listModels({ status: ModelStatus.ENABLED, limit: 1000 });
    expect(enabled.pagination?.total).toBe(all.length - 3);
    expect(enabled.items.some((m) => chosen.includes(idOf(m)))).toBe(false);
    const limited = await c.listModels({ status: ModelStatus.DISABLED, limit: 1 });
    expect(limited.items).toHaveLength(1);
    expect(limited.pagination?.total).toBe(3);
  });

  it("prefix: case-insensitive on the name", async () => {
    const claude = catalog.filter((e) => e.name.toLowerCase().startsWith("claude"));
    expect(claude.length).toBeGreaterThan(1);
    for (const prefix of ["claude", "CLAUDE", "cLaUdE"]) {
      const res = await client.listModels({ prefix, limit: 1000 });
      expect(res.pagination?.total).toBe(claude.length);
      expect(res.items.map((m) => m.metadata!.name).sort()).toEqual(claude.map((e) => e.name).sort());
    }
    const zephyr = await client.listModels({ prefix: "zephyr" });
    expect(ids(zephyr)).toEqual(rowIds("a", "b"));
    expect((await client.listModels({ prefix: "QUASAR D" })).items.map(idOf)).toEqual([rows.d!.id]);
  });

  it("prefix: on the external id (case-insensitive)", async () => {
    expect(ids(await client.listModels({ prefix: "ext-alpha" }))).toEqual(rowIds("a", "b"));
    expect(ids(await client.listModels({ prefix: "EXT-ALPHA-2" }))).toEqual(rowIds("b"));
    expect(ids(await client.listModels({ prefix: "ext-" }))).toEqual(rowIds("a", "b", "c"));
    expect(ids(await client.listModels({ prefix: "other" }))).toEqual(rowIds("d"));
  });

  it("prefix: on the id", async () => {
    const target = rows.c!.id;
    expect(ids(await client.listModels({ prefix: target }))).toEqual([target]);
    expect(ids(await client.listModels({ prefix: target.toLowerCase() }))).toEqual([target]);
    const all = await client.listModels({ prefix: "model_", limit: 1000 });
    expect(all.pagination?.total).toBe(catalog.length + 4);
    // A prefix is a prefix, not a substring.
    expect((await client.listModels({ prefix: target.slice(6) })).pagination?.total).toBe(0);
  });

  it("prefix: LIKE wildcards match literally", async () => {
    for (const prefix of ["%", "_", "%laude", "_laude", "ext_alpha"]) {
      const res = await client.listModels({ prefix });
      expect(res.pagination?.total, `prefix ${JSON.stringify(prefix)}`).toBe(0);
      expect(res.items).toHaveLength(0);
    }
  });

  it("query: 'claude' matches only models whose name, family or provider mention it", async () => {
    const expected = catalog.filter((e) =>
      [e.name, e.spec.family, e.spec.provider].some((t) => (t ?? "").toLowerCase().includes("claude")),
    );
    const res = await client.listModels({ query: "claude", limit: 1000 });
    expect(res.pagination?.total).toBe(expected.length);
    expect(res.items.length).toBe(expected.length);
    for (const m of res.items) expect(`${m.metadata?.name} ${m.spec?.family} ${m.spec?.provider}`.toLowerCase()).toContain("claude");
    expect((await client.listModels({ query: "CLAUDE", limit: 1000 })).pagination?.total).toBe(expected.length);
  });

  it("query: every word must match", async () => {
    const matches = (terms: string[]) =>
      catalog.filter((e) =>
        terms.every((t) => [e.name, e.spec.family, e.spec.provider].some((f) => (f ?? "").toLowerCase().includes(t))),
      );
    const sonnet = matches(["claude", "sonnet"]);
    expect(sonnet.length).toBeGreaterThan(0);
    expect(sonnet.length).toBeLessThan(matches(["claude"]).length);
    const res = await client.listModels({ query: "claude sonnet", limit: 1000 });
    expect(res.pagination?.total).toBe(sonnet.length);
    expect(res.items.map((m) => m.spec!.family).sort()).toEqual(sonnet.map((e) => e.spec.family).sort());
    expect((await client.listModels({ query: "  Sonnet   CLAUDE  ", limit: 1000 })).pagination?.total).toBe(sonnet.length);
    expect((await client.listModels({ query: "claude gemini" })).pagination?.total).toBe(0);
  });

  it("query: full-text search over external ids and labels, words as prefixes", async () => {
    expect(ids(await client.listModels({ query: "ext-alpha" }))).toEqual(rowIds("a", "b"));
    expect(ids(await client.listModels({ query: "gold" }))).toEqual(rowIds("d"));
    expect(ids(await client.listModels({ query: "zephyr prod" }))).toEqual(rowIds("a", "b"));
    expect(ids(await client.listModels({ query: "zeph" }))).toEqual(ids(await client.listModels({ query: "zephyr" })));
  });

  it("query: FTS syntax and punctuation in a query are matched as text, never run", async () => {
    for (const query of ["%%%", "%", '"', "*", "(", "^"]) {
      const res = await client.listModels({ query });
      expect(res.pagination?.total, `query ${JSON.stringify(query)}`).toBe(0);
    }
    // OR is a word to find (descriptions have words starting "or"), not an operator.
    const or = (await client.listModels({ query: "or" })).pagination?.total;
    expect((await client.listModels({ query: '"" OR ""' })).pagination?.total).toBe(or);
    for (const query of ["claude OR gpt", "NEAR(claude sonnet)", "family:claude", "claude*", "-claude"]) {
      const res = await client.listModels({ query });
      expect(res.pagination?.total, `query ${JSON.stringify(query)}`).toBeLessThanOrEqual(catalog.length + 100);
    }
  });

  it("query: does not match the storage syntax of labels", async () => {
    // Nothing searchable (name, family, provider, id, external id, a label) contains "{}".
    for (const query of ["{}", '":"']) {
      const res = await client.listModels({ query });
      expect(res.pagination?.total, `query ${JSON.stringify(query)}`).toBe(0);
    }
  });

  it("bundleKey: only models owned by that bundle", async () => {
    const main = await client.listModels({ bundleKey: "bundle-main" });
    expect(ids(main)).toEqual(rowIds("a", "b", "c"));
    expect(main.pagination?.total).toBe(3);
    expect(ids(await client.listModels({ bundleKey: "bundle-side" }))).toEqual(rowIds("d"));
    expect((await client.listModels({ bundleKey: "bundle" })).pagination?.total).toBe(0);
    for (const m of main.items) expect(m.metadata?.bundleKey).toBe("bundle-main");
  });

  it("labels: every pair must match", async () => {
    expect(ids(await client.listModels({ labels: "env=prod,team=ai" }))).toEqual(rowIds("a", "d"));
    expect(ids(await client.listModels({ labels: "team=ai,env=prod" }))).toEqual(rowIds("a", "d"));
    expect(ids(await client.listModels({ labels: "env=prod" }))).toEqual(rowIds("a", "b", "d"));
    expect(ids(await client.listModels({ labels: "team=ai" }))).toEqual(rowIds("a", "c", "d"));
    expect(ids(await client.listModels({ labels: "env=prod,team=ai,tier=gold" }))).toEqual(rowIds("d"));
    expect((await client.listModels({ labels: "env=staging" })).pagination?.total).toBe(0);
    const res = await client.listModels({ labels: "env=prod,team=ai" });
    for (const m of res.items) {
      expect(m.metadata?.labels.env).toBe("prod");
      expect(m.metadata?.labels.team).toBe("ai");
    }
  });

  it("filters combine", async () => {
    expect(ids(await client.listModels({ bundleKey: "bundle-main", labels: "team=ai" }))).toEqual(rowIds("a", "c"));
    expect(ids(await client.listModels({ prefix: "zephyr", labels: "team=web" }))).toEqual(rowIds("b"));
  });

  it("sortOrder desc reverses the order", async () => {
    const asc = await client.listModels({ limit: 1000 });
    const desc = await client.listModels({ limit: 1000, sortOrder: "desc" });
    expect(desc.items.map(idOf)).toEqual(asc.items.map(idOf).reverse());
    expectOrdered(desc.items, true);
    expectOrdered(asc.items, false);
    // The newest rows come first in desc.
    expect(desc.items.slice(0, 4).map(idOf).sort()).toEqual(rowIds("a", "b", "c", "d"));
    const labelled = await client.listModels({ labels: "env=prod", sortOrder: "desc" });
    expect(labelled.items.map(idOf)).toEqual([rows.d!.id, rows.b!.id, rows.a!.id]);
  });

  it("total counts every match regardless of limit", async () => {
    for (const [params, expected] of [
      [{ labels: "env=prod" }, 3],
      [{ bundleKey: "bundle-main" }, 3],
      [{ query: "claude" }, catalog.filter((e) => [e.name, e.spec.family, e.spec.provider].some((t) => (t ?? "").toLowerCase().includes("claude"))).length],
      [{}, catalog.length + 4],
    ] as Array<[ListParams, number]>) {
      for (const limit of [1, 2, 1000]) {
        const res = await client.listModels({ ...params, limit });
        expect(res.pagination?.total, JSON.stringify({ ...params, limit })).toBe(expected);
        expect(res.items.length).toBe(Math.min(limit, expected));
        expect((res.pagination?.nextCursor ?? "") !== "").toBe(expected > limit);
      }
    }
  });

  it("a filtered walk at limit 1 returns every match once", async () => {
    const { items, pages } = await walk(client, { labels: "env=prod", limit: 1 });
    expect(items.map(idOf)).toEqual([rows.a!.id, rows.b!.id, rows.d!.id]);
    expect(pages).toHaveLength(3);
  });
});

describe("cursor errors", () => {
  let a: ModelClient;
  let b: ModelClient;

  beforeAll(async () => {
    a = await workspace("ws_page_cursor_a");
    b = await workspace("ws_page_cursor_b");
  });

  it("a tampered cursor is InvalidArgument", async () => {
    const first = await a.listModels({ limit: 5 });
    const cursor = first.pagination!.nextCursor;
    expect(cursor).not.toBe("");
    await expect(a.listModels({ limit: 5, cursor })).resolves.toBeDefined();
    const dot = cursor.indexOf(".");
    const candidates = [
      tamper(cursor), // the middle
      tamper(cursor, Math.floor(dot / 2)), // inside the payload
      tamper(cursor, dot + 1 + Math.floor((cursor.length - dot - 1) / 2)), // inside the signature
      cursor.slice(0, -1),
      cursor + "A",
      "garbage",
      "a.b.c",
    ];
    for (const bad of candidates) {
      expect(bad).not.toBe(cursor);
      await expectInvalidArgument(a.listModels({ limit: 5, cursor: bad }));
    }
  });

  it("a cursor of a status-filtered list is refused with another status or another query", async () => {
    const all = (await a.listModels({ limit: 1000 })).items.map(idOf);
    for (const id of all.slice(0, 3)) await a.disableModel({ id });
    const first = await a.listModels({ status: ModelStatus.DISABLED, limit: 1 });
    const cursor = first.pagination!.nextCursor;
    expect(cursor).not.toBe("");

    await expectInvalidArgument(a.listModels({ status: ModelStatus.ENABLED, limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.UNSPECIFIED, limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.DISABLED, query: "claude", limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.DISABLED, sortOrder: "desc", limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.DISABLED, prefix: "c", limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.DISABLED, labels: "env=prod", limit: 1, cursor }));
    await expectInvalidArgument(a.listModels({ status: ModelStatus.DISABLED, bundleKey: "x", limit: 1, cursor }));

    // The same filters accept it.
    const next = await a.listModels({ status: ModelStatus.DISABLED, limit: 1, cursor });
    expect(next.items).toHaveLength(1);

    for (const id of all.slice(0, 3)) await a.enableModel({ id });
  });

  it("a cursor of a query is refused with another query", async () => {
    const first = await a.listModels({ query: "gpt", limit: 2 });
    const cursor = first.pagination!.nextCursor;
    expect(cursor).not.toBe("");
    await expectInvalidArgument(a.listModels({ query: "claude", limit: 2, cursor }));
    await expectInvalidArgument(a.listModels({ query: "gpt mini", limit: 2, cursor }));
    await expectInvalidArgument(a.listModels({ limit: 2, cursor }));
    await expect(a.listModels({ query: "gpt", limit: 2, cursor })).resolves.toBeDefined();
  });

  it("a cursor of workspace A is refused in workspace B", async () => {
    const first = await a.listModels({ limit: 5 });
    const cursor = first.pagination!.nextCursor;
    expect(cursor).not.toBe("");
    await expectInvalidArgument(b.listModels({ limit: 5, cursor }));
    await expect(a.listModels({ limit: 5, cursor })).resolves.toBeDefined();
  });

  it("the same cursor with another limit is fine (AIP-158) and continues where the page ended", async () => {
    const whole = (await a.listModels({ limit: 1000 })).items.map(idOf);
    const first = await a.listModels({ limit: 5 });
    const cursor = first.pagination!.nextCursor;
    for (const limit of [1, 3, 11, 0, 1000]) {
      const next = await a.listModels({ limit, cursor });
      const expected = whole.slice(5, 5 + (limit === 0 ? 50 : limit));
      expect(next.items.map(idOf)).toEqual(expected);
      expect(next.pagination?.total).toBe(whole.length);
    }
    // Filters with a cursor also allow another limit.
    const q = await a.listModels({ query: "gpt", limit: 1 });
    const more = await a.listModels({ query: "gpt", limit: 4, cursor: q.pagination!.nextCursor });
    expect(more.items).toHaveLength(4);
    expect(more.items.map(idOf)).not.toContain(idOf(q.items[0]!));
  });

  it("filters are compared by meaning: label order and sortOrder case do not matter", async () => {
    const wsId = "ws_page_cursor_a";
    for (let i = 0; i < 3; i++) await insertRow(wsId, { labels: { env: "prod", team: "ai" } });
    const first = await a.listModels({ labels: "env=prod,team=ai", limit: 1 });
    const cursor = first.pagination!.nextCursor;
    expect(cursor).not.toBe("");
    await expect(a.listModels({ labels: "team=ai,env=prod", limit: 1, cursor })).resolves.toBeDefined();
    const desc = await a.listModels({ sortOrder: "desc", limit: 1 });
    await expect(a.listModels({ sortOrder: "DESC", limit: 1, cursor: desc.pagination!.nextCursor })).resolves.toBeDefined();
  });
});

describe("limit", () => {
  const wsId = "ws_page_limit";
  let client: ModelClient;

  beforeAll(async () => {
    client = await workspace(wsId);
    const now = Date.now();
    for (let i = 0; i < 1000; i++) {
      await insertRow(wsId, { name: `Bulk ${i}`, createdAt: now + i, updatedAt: now + i });
    }
  });

  it("0 means the default of 50", async () => {
    const res = await client.listModels({ limit: 0 });
    expect(res.items).toHaveLength(50);
    expect(res.pagination?.total).toBe(catalog.length + 1000);
    expect(res.pagination?.nextCursor).not.toBe("");
    expect((await client.listModels({})).items).toHaveLength(50);
  });

  it("larger than 1000 is clamped to 1000", async () => {
    const total = catalog.length + 1000;
    for (const limit of [1001, 5000, 2 ** 31 - 1]) {
      const res = await client.listModels({ limit });
      expect(res.items).toHaveLength(1000);
      expect(res.pagination?.total).toBe(total);
      expect(res.pagination?.nextCursor).not.toBe("");
      const rest = await client.listModels({ limit, cursor: res.pagination!.nextCursor });
      expect(rest.items).toHaveLength(total - 1000);
      expect(rest.pagination?.nextCursor ?? "").toBe("");
      expect(duplicates([...res.items, ...rest.items].map(idOf))).toEqual([]);
    }
    const exact = await client.listModels({ limit: 1000 });
    expect(exact.items).toHaveLength(1000);
  });

  it("a negative limit is InvalidArgument", async () => {
    for (const limit of [-1, -50, -(2 ** 31)]) {
      const err = await expectInvalidArgument(client.listModels({ limit }));
      expect(err.message).toMatch(/limit/);
    }
  });
});
