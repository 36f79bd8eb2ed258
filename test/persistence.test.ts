import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelStatus, type Model } from "../gen/modelservice/v1/model_pb.js";
import { usdToCents } from "../src/domain/catalog/decimal-price.js";
import { syncCatalog } from "../src/domain/catalog/catalog-sync.js";
import { bundledCatalog } from "./support/catalog.js";
import { newModelId } from "../src/domain/models/model-id.js";
import type { CatalogEntryRecord } from "../src/storage/model-store.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { noFacts } from "../src/domain/models/spec-facts.js";
import { LifecycleStage } from "../gen/modelservice/v1/pricing_pb.js";

let service: TestService;
const catalog = bundledCatalog();

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.dispose());

async function client(workspaceId: string): Promise<ModelClient> {
  return modelClient(service.url, await service.token(workspaceId));
}

async function listAll(c: ModelClient): Promise<{ items: Model[]; total: number }> {
  const res = await c.listModels({ limit: 1000 });
  expect(res.pagination?.nextCursor ?? "").toBe("");
  return { items: res.items, total: res.pagination!.total! };
}

function byCatalogId(items: Model[]): Map<string, Model> {
  return new Map(items.map((m) => [m.metadata!.catalogId!, m]));
}

/** Reference half-up rounding of an exact decimal dollar string to cents, on integers only. */
function halfUpCents(usd: string): bigint {
  const [whole, fraction = ""] = usd.split(".");
  const scale = 10n ** BigInt(fraction.length);
  const units = BigInt(whole!) * scale + BigInt(fraction === "" ? "0" : fraction); // usd * scale
  // cents = usd * 100, rounded half up: floor((2 * units * 100 + scale) / (2 * scale))
  return (2n * units * 100n + scale) / (2n * scale);
}

/** Stops and restarts the service on the same database file. */
async function restartService(): Promise<void> {
  await service.stop();
  await service.restart();
}

function copyContext() {
  return { newId: newModelId, now: Date.now() };
}

describe("the platform catalog", () => {
  it("has at least 30 entries from at least 6 providers", () => {
    expect(catalog.length).toBeGreaterThanOrEqual(30);
    expect(new Set(catalog.map((e) => e.spec.provider)).size).toBeGreaterThanOrEqual(6);
    expect(new Set(catalog.map((e) => e.catalogId)).size).toBe(catalog.length);
  });

  it("every copy in a fresh workspace is enabled, made by profile_system, and names its catalog entry", async () => {
    const c = await client("ws_persist_fresh");
    const { items, total } = await listAll(c);
    expect(total).toBe(catalog.length);
    expect(items).toHaveLength(catalog.length);
    const copies = byCatalogId(items);
    expect([...copies.keys()].sort()).toEqual(catalog.map((e) => e.catalogId).sort());
    for (const m of items) {
      expect(m.spec?.status).toBe(ModelStatus.ENABLED);
      expect(m.metadata?.profileId).toBe("profile_system");
      expect(m.metadata?.catalogId).toBeTruthy();
      expect(m.metadata?.workspaceId).toBe("ws_persist_fresh");
      expect(m.metadata?.accountId).toBe("acct_test");
      expect(m.metadata?.id).toMatch(/^model_[0-9A-HJKMNP-TV-Z]{26}$/);
    }
    for (const entry of catalog) {
      const copy = copies.get(entry.catalogId)!;
      expect(copy.metadata?.name).toBe(entry.name);
      expect(copy.spec?.family).toBe(entry.spec.family);
      expect(copy.spec?.provider).toBe(entry.spec.provider);
      expect(copy.spec?.inputPricePerMillionTokensUsd).toBe(entry.spec.inputPriceUsd ?? undefined);
      expect(copy.spec?.outputPricePerMillionTokensUsd).toBe(entry.spec.outputPriceUsd ?? undefined);
    }
  });

  it("a price that is not a whole number of cents is rounded half up in the cents field and kept exact", async () => {
    const c = await client("ws_persist_fresh");
    const { items } = await listAll(c);
    const fractional = items.filter((m) => /\.\d{3,}$/.test(m.spec?.inputPricePerMillionTokensUsd ?? ""));
    expect(fractional.length).toBeGreaterThan(0);
    for (const m of fractional) {
      const usd = m.spec!.inputPricePerMillionTokensUsd!;
      expect(m.spec?.inputPricePerMillionTokens, `${m.metadata?.catalogId} ${usd}`).toBe(halfUpCents(usd));
    }
    // Every price field of every copy follows the same rule; an unknown price stays unset.
    for (const m of items) {
      const s = m.spec!;
      for (const [cents, usd] of [
        [s.inputPricePerMillionTokens, s.inputPricePerMillionTokensUsd],
        [s.outputPricePerMillionTokens, s.outputPricePerMillionTokensUsd],
        [s.cachedInputPricePerMillionTokens, s.cachedInputPricePerMillionTokensUsd],
      ] as const) {
        expect(cents).toBe(usd === undefined ? undefined : halfUpCents(usd));
      }
    }
  });

  it("usdToCents rounds half up on the digits", () => {
    const cases: Array<[string, number]> = [
      ["0.075", 8],
      ["0.0375", 4],
      ["3", 300],
      ["0.005", 1],
      ["0.004", 0],
      ["15", 1500],
      ["2.5", 250],
      ["0", 0],
      ["0.01", 1],
      ["0.0049", 0],
      ["0.035", 4],
      ["0.00875", 1],
      ["1.255", 126],
      ["1.2549", 125],
      ["0.995", 100],
    ];
    for (const [usd, cents] of cases) expect(usdToCents(usd), usd).toBe(cents);
    for (const [usd, cents] of cases) expect(halfUpCents(usd), usd).toBe(BigInt(cents));
  });

  it("usdToCents refuses what is not a plain decimal", () => {
    for (const bad of ["", "-1", "1.", ".5", "1e3", "abc", "01"]) expect(() => usdToCents(bad), bad).toThrow();
  });
});

describe("restart on the same database", () => {
  const wsA = "ws_persist_a";
  const wsB = "ws_persist_b";
  let before: { a: Model[]; b: Model[]; totalA: number; totalB: number; disabledA: string[]; disabledB: string[]; cursor: string; secondPage: string[] };

  beforeAll(async () => {
    const a = await client(wsA);
    const b = await client(wsB);
    const listA = await listAll(a);
    const listB = await listAll(b);
    const disabledA = [listA.items[2]!.metadata!.id, listA.items[20]!.metadata!.id];
    await a.disableModel({ id: disabledA[0]! });
    await a.setModelStatus({ id: disabledA[1]!, status: ModelStatus.DISABLED });
    const disabledB = [listB.items[7]!.metadata!.id];
    await b.disableModel({ id: disabledB[0]! });
    const first = await a.listModels({ limit: 10 });
    const second = await a.listModels({ limit: 10, cursor: first.pagination!.nextCursor });
    before = {
      a: (await listAll(a)).items,
      b: (await listAll(b)).items,
      totalA: listA.total,
      totalB: listB.total,
      disabledA,
      disabledB,
      cursor: first.pagination!.nextCursor,
      secondPage: second.items.map((m) => m.metadata!.id),
    };
    await restartService();
  });

  it("status changes survive the restart", async () => {
    const a = await client(wsA);
    for (const id of before.disabledA) expect((await a.getModel({ id })).spec?.status).toBe(ModelStatus.DISABLED);
    const disabled = await a.listModels({ status: ModelStatus.DISABLED });
    expect(disabled.items.map((m) => m.metadata!.id).sort()).toEqual([...before.disabledA].sort());
    expect(disabled.pagination?.total).toBe(2);
  });

  it("the workspace's models keep their ids (and everything else)", async () => {
    const { items, total } = await listAll(await client(wsA));
    expect(total).toBe(before.totalA);
    expect(items.map((m) => m.metadata!.id)).toEqual(before.a.map((m) => m.metadata!.id));
    expect(items).toEqual(before.a);
  });

  it("a second workspace's data survives too", async () => {
    const b = await client(wsB);
    const { items, total } = await listAll(b);
    expect(total).toBe(before.totalB);
    expect(items).toEqual(before.b);
    expect((await b.getModel({ id: before.disabledB[0]! })).spec?.status).toBe(ModelStatus.DISABLED);
    const disabled = await b.listModels({ status: ModelStatus.DISABLED });
    expect(disabled.items.map((m) => m.metadata!.id)).toEqual(before.disabledB);
    // Ids are never shared between workspaces.
    const idsA = new Set(before.a.map((m) => m.metadata!.id));
    expect(items.some((m) => idsA.has(m.metadata!.id))).toBe(false);
  });

  it("the catalog sync at start does not duplicate models", async () => {
    for (const ws of [wsA, wsB]) {
      const { items, total } = await listAll(await client(ws));
      expect(total).toBe(catalog.length);
      const catalogIds = items.map((m) => m.metadata!.catalogId);
      expect(new Set(catalogIds).size).toBe(catalogIds.length);
    }
    await restartService();
    for (const ws of [wsA, wsB]) expect((await listAll(await client(ws))).total).toBe(catalog.length);
  });

  it("a cursor issued before the restart still works after it", async () => {
    const a = await client(wsA);
    const page = await a.listModels({ limit: 10, cursor: before.cursor });
    expect(page.items.map((m) => m.metadata!.id)).toEqual(before.secondPage);
  });
});

describe("catalog growth and price changes", () => {
  const wsA = "ws_persist_grow_a";
  const wsB = "ws_persist_grow_b";
  const newEntry: CatalogEntryRecord = {
    catalogId: "acme/acme-frontier-1",
    name: "Acme Frontier 1",
    spec: {
      family: "acme-frontier-1",
      provider: "acme",
      inputPriceCents: usdToCents("1.125"),
      outputPriceCents: usdToCents("9"),
      cachedInputPriceCents: null,
      inputPriceUsd: "1.125",
      outputPriceUsd: "9",
      cachedInputPriceUsd: null,
      maxInputTokens: 200000,
      maxOutputTokens: 32000,
      capabilities: ["MODEL_CAPABILITY_TOOL_CALLING"],
      description: null,
      modelUrl: null,
      ...noFacts,
    },
  };
  let disabledA: Model;
  let disabledB: Model;

  beforeAll(async () => {
    // The catalog as built here, so that only the new entry differs from what the store last applied.
    await syncCatalog(service.running.store, catalog, copyContext());
    const a = await client(wsA);
    const b = await client(wsB);
    const listA = (await listAll(a)).items;
    const listB = (await listAll(b)).items;
    disabledA = await a.disableModel({ id: listA[5]!.metadata!.id });
    disabledB = await b.disableModel({ id: listB[9]!.metadata!.id });
  });

  it("a new catalog entry reaches every existing workspace, which keep their statuses", async () => {
    const a = await client(wsA);
    const b = await client(wsB);
    const totalA = (await listAll(a)).total;
    const totalB = (await listAll(b)).total;

    // The catalog as built here, so that only the new entry differs from what the store last applied.
    await syncCatalog(service.running.store, catalog, copyContext());
    const result = await syncCatalog(service.running.store, [...catalog, newEntry], copyContext());
    expect(result.added).toBe(1);
    expect(result.changed).toBe(0);
    expect(result.copiesCreated).toBe(0); // workspaces see the new entry as a virtual copy: no rows

    for (const [c, total, disabled, ws] of [
      [a, totalA, disabledA, wsA],
      [b, totalB, disabledB, wsB],
    ] as const) {
      const { items, total: after } = await listAll(c);
      expect(after).toBe(total + 1);
      const copy = byCatalogId(items).get(newEntry.catalogId);
      expect(copy, ws).toBeDefined();
      expect(copy!.metadata?.name).toBe(newEntry.name);
      expect(copy!.metadata?.workspaceId).toBe(ws);
      expect(copy!.metadata?.accountId).toBe("acct_test");
      expect(copy!.metadata?.profileId).toBe("profile_system");
      expect(copy!.metadata?.id).toMatch(/^model_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(copy!.spec?.status).toBe(ModelStatus.ENABLED);
      expect(copy!.spec?.inputPricePerMillionTokens).toBe(113n);
      expect(copy!.spec?.inputPricePerMillionTokensUsd).toBe("1.125");
      const stillDisabled = items.filter((m) => m.spec?.status === ModelStatus.DISABLED);
      expect(stillDisabled.map((m) => m.metadata!.id)).toEqual([disabled.metadata!.id]);
      expect(await c.getModel({ id: disabled.metadata!.id })).toEqual(disabled);
    }

    // Syncing the same catalog again changes nothing.
    const again = await syncCatalog(service.running.store, [...catalog, newEntry], copyContext());
    expect(again).toEqual({ added: 0, changed: 0, copiesCreated: 0 });
    expect((await listAll(a)).total).toBe(totalA + 1);

    // A workspace created after the growth gets the new entry as well.
    const fresh = await listAll(await client("ws_persist_grow_later"));
    expect(fresh.total).toBe(catalog.length + 1);
    expect(byCatalogId(fresh.items).has(newEntry.catalogId)).toBe(true);
  });

  it("a price change of an existing entry reaches the copies without touching their status", async () => {
    const catalogId = disabledA.metadata!.catalogId!;
    const index = catalog.findIndex((e) => e.catalogId === catalogId);
    expect(index).toBeGreaterThanOrEqual(0);
    const old = catalog[index]!;
    const changed: CatalogEntryRecord = {
      ...old,
      spec: { ...old.spec, inputPriceUsd: "4.0625", inputPriceCents: usdToCents("4.0625"), outputPriceUsd: "17", outputPriceCents: 1700 },
    };
    const entries = [...catalog.slice(0, index), changed, ...catalog.slice(index + 1), newEntry];
    const result = await syncCatalog(service.running.store, entries, copyContext());
    expect(result).toEqual({ added: 0, changed: 1, copiesCreated: 0 });

    const a = await client(wsA);
    const copyA = await a.getModel({ id: disabledA.metadata!.id });
    expect(copyA.spec?.status).toBe(ModelStatus.DISABLED);
    expect(copyA.spec?.inputPricePerMillionTokensUsd).toBe("4.0625");
    expect(copyA.spec?.inputPricePerMillionTokens).toBe(406n);
    expect(copyA.spec?.outputPricePerMillionTokens).toBe(1700n);
    expect(copyA.metadata?.id).toBe(disabledA.metadata!.id);
    expect(copyA.metadata?.createdAt).toEqual(disabledA.metadata!.createdAt);

    // The same entry's copy in another workspace changes too and stays enabled.
    const b = await client(wsB);
    const copyB = byCatalogId((await listAll(b)).items).get(catalogId)!;
    expect(copyB.spec?.inputPricePerMillionTokens).toBe(406n);
    expect(copyB.spec?.status).toBe(catalogId === disabledB.metadata!.catalogId ? ModelStatus.DISABLED : ModelStatus.ENABLED);
    expect((await b.getModel({ id: disabledB.metadata!.id })).spec?.status).toBe(ModelStatus.DISABLED);

    // Other entries' copies are untouched.
    const otherA = byCatalogId((await listAll(a)).items);
    for (const entry of catalog) {
      if (entry.catalogId === catalogId) continue;
      expect(otherA.get(entry.catalogId)!.spec?.inputPricePerMillionTokensUsd).toBe(entry.spec.inputPriceUsd ?? undefined);
    }
  });

  it("statuses survive a restart without duplicates; an entry gone from the data is retired there, not deleted", async () => {
    const grown = byCatalogId((await listAll(await client(wsA))).items).get(newEntry.catalogId)!;
    await restartService();
    const a = await client(wsA);
    const { items, total } = await listAll(a);
    // The retired entry stays in the workspace that had it, disabled.
    expect(total).toBe(catalog.length + 1);
    const catalogIds = items.map((m) => m.metadata!.catalogId);
    expect(new Set(catalogIds).size).toBe(catalogIds.length);
    expect(byCatalogId(items).get(newEntry.catalogId)?.spec?.status).toBe(ModelStatus.DISABLED);
    const retired = await a.getModel({ id: grown.metadata!.id });
    expect(retired.spec?.lifecycle?.stage).toBe(LifecycleStage.RETIRED);
    expect(retired.spec?.disabledReason).toMatch(/^retired/);
    expect(retired.metadata?.name).toBe(newEntry.name);
    expect((await a.getModel({ id: disabledA.metadata!.id })).spec?.status).toBe(ModelStatus.DISABLED);
  });
});
