import { findProvider, type ModelInfo, type ModelPrice } from "@pydantic/genai-prices";
import { Code, ConnectError } from "@connectrpc/connect";
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Model } from "../gen/modelservice/v1/model_pb.js";
import { LifecycleStage, type TokenPrices } from "../gen/modelservice/v1/pricing_pb.js";
import { defaultCatalogProviders } from "../src/config.js";
import { checkOverlay } from "../src/domain/catalog/catalog-overlay.js";
import { noFacts } from "../src/domain/models/spec-facts.js";
import { newModelId } from "../src/domain/models/model-id.js";
import type { CatalogEntryRecord } from "../src/storage/model-store.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";
import { stagedDatabase } from "./support/test-database.js";
import { syncCatalog } from "../src/domain/catalog/catalog-sync.js";

/**
 * Issue #17: the catalog built from @pydantic/genai-prices, checked over the
 * wire against the package's own data; RefreshCatalog from data files (dry
 * run, apply, retire, refused files); the overlay's citations; and the ids of
 * a database populated by the old hand-kept catalog kept across the switch.
 */

/** The package's price keys and the TokenPrices fields they fill. */
const components: Array<[string, keyof TokenPrices]> = [
  ["input_mtok", "inputUsdPerMtok"],
  ["output_mtok", "outputUsdPerMtok"],
  ["cache_read_mtok", "cacheReadUsdPerMtok"],
  ["cache_write_mtok", "cacheWrite5mUsdPerMtok"],
  ["cache_write_1h_mtok", "cacheWrite1hUsdPerMtok"],
  ["output_reasoning_mtok", "reasoningOutputUsdPerMtok"],
  ["input_audio_mtok", "audioInputUsdPerMtok"],
  ["output_audio_mtok", "audioOutputUsdPerMtok"],
  ["input_image_mtok", "imageInputUsdPerMtok"],
  ["output_image_mtok", "imageOutputUsdPerMtok"],
  ["web_searches_kcount", "webSearchUsdPerK"],
];

/** The package's price in effect now: the last unconstrained or started dated price (time-of-day prices aside). */
function currentPrices(model: ModelInfo): ModelPrice {
  if (!Array.isArray(model.prices)) return model.prices;
  let current = model.prices[0]!.prices;
  for (const p of model.prices) {
    if (p.constraint === undefined || (p.constraint.type === "start_date" && new Date(p.constraint.start_date).getTime() <= Date.now())) current = p.prices;
  }
  return current;
}

async function systemModels(c: ModelClient): Promise<Model[]> {
  const out: Model[] = [];
  let cursor = "";
  do {
    const page = await c.listSystemModels({ limit: 1000, cursor, showDeleted: true });
    out.push(...page.items);
    cursor = page.pagination?.nextCursor ?? "";
  } while (cursor !== "");
  return out;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

let service: TestService;
let admin: ModelClient;
const dir = mkdtempSync(join(tmpdir(), "catalog-data-"));

beforeAll(async () => {
  service = await startTestService();
  admin = modelClient(service.url, await service.token("ws_catalog_admin"));
});
afterAll(() => service.dispose());

describe("the catalog against the package's own data", () => {
  it("holds every non-deprecated model of the default providers, each price, tier and context window as the package has it", async () => {
    const models = await systemModels(admin);
    const byKey = new Map(models.map((m) => [`${m.spec?.provider}/${m.spec?.family}`, m]));
    let checkedPrices = 0;
    let checkedTiers = 0;
    for (const providerId of defaultCatalogProviders) {
      const provider = findProvider({ providerId })!;
      for (const info of provider.models.filter((m) => !m.deprecated)) {
        const model = byKey.get(`${providerId}/${info.id}`);
        expect(model, `${providerId}/${info.id}`).toBeDefined();
        const where = model!.metadata!.catalogId!;
        expect(model!.spec?.maxInputTokens, where).toBe(info.context_window);
        expect(model!.spec?.source?.dataVersion, where).toMatch(/^@pydantic\/genai-prices@\d/);
        const prices = currentPrices(info);
        const pricing = model!.spec!.pricing;
        for (const [key, field] of components) {
          const price = prices[key];
          if (price === undefined) {
            expect(pricing?.base?.[field], `${where} ${key}`).toBeUndefined();
            continue;
          }
          const base = typeof price === "number" ? price : price.base;
          expect(Number(pricing?.base?.[field]), `${where} ${key}`).toBe(base);
          checkedPrices++;
          if (typeof price === "number") continue;
          for (const tier of price.tiers) {
            const ours = pricing!.contextTiers.find((t) => t.aboveInputTokens === BigInt(tier.start));
            expect(Number(ours?.prices?.[field]), `${where} ${key} above ${tier.start}`).toBe(tier.price);
            checkedTiers++;
          }
        }
        // The seed fields follow the base tier.
        expect(model!.spec?.inputPricePerMillionTokensUsd, where).toBe(pricing?.base?.inputUsdPerMtok);
      }
    }
    expect(checkedPrices).toBeGreaterThan(1000);
    expect(checkedTiers).toBeGreaterThan(50);
  });

  it("writes prices as plain decimals, never exponents, and keeps the package's dated prices as history", async () => {
    const models = await systemModels(admin);
    for (const m of models) {
      for (const [key, value] of Object.entries(m.spec?.pricing?.base ?? {})) {
        if (!key.startsWith("$") && typeof value === "string") expect(value, m.metadata?.catalogId).toMatch(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
      }
    }
    const dated = models.filter((m) => (m.spec?.priceHistory.length ?? 0) > 0);
    expect(dated.length).toBeGreaterThan(0);
    for (const m of dated) expect(m.spec!.priceHistory.some((h) => h.effectiveFrom !== undefined)).toBe(true);
  });
});

describe("the overlay", () => {
  const good = {
    sources: { s: { url: "https://example.com/model", date: "2026-12-06" } },
    models: { "x/y": { maxOutputTokens: { value: 1000, source: "s" } } },
  };

  it("reads a cited value", () => {
    expect(checkOverlay(good).get("x/y")).toEqual({ maxOutputTokens: 1000 });
  });

  it("refuses a value without a source, a source without a URL or date, and values the API cannot carry", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, models: { "x/y": { maxOutputTokens: { value: 1000 } } } }, /x\/y" maxOutputTokens: no source URL/],
      [{ ...good, sources: { s: { date: "2026-12-06" } } }, /no source URL/],
      [{ ...good, sources: { s: { url: "https://example.com" } } }, /no source date/],
      [{ ...good, models: { "x/y": { lifecycle: { value: { stage: "SOMEDAY" }, source: "s" } } } }, /x\/y" lifecycle/],
      [{ ...good, models: { "x/y": { price: { value: 1, source: "s" } } } }, /not a fact/],
    ];
    for (const [file, problem] of cases) expect(() => checkOverlay(file as Parameters<typeof checkOverlay>[0])).toThrow(problem);
  });
});

describe("RefreshCatalog from a data file", () => {
  const bundled = defaultCatalogProviders.map((id) => structuredClone(findProvider({ providerId: id })!));
  const anthropic = bundled.find((p) => p.id === "anthropic")!;
  const openai = bundled.find((p) => p.id === "openai")!;
  const changedId = "claude-opus-4-8";
  const removedId = "gpt-4.1-nano";

  function dataFile(name: string, providers: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(providers));
    return path;
  }

  function newerData(): string {
    const providers = structuredClone(bundled);
    const a = providers.find((p) => p.id === "anthropic")!;
    const opus = a.models.find((m) => m.id === changedId)!;
    opus.prices = { ...(opus.prices as ModelPrice), input_mtok: 6 };
    a.models.push({ id: "claude-test-9", name: "Claude Test 9", match: { equals: "claude-test-9" }, context_window: 300000, prices: { input_mtok: 0.3, output_mtok: 1.5 } });
    const o = providers.find((p) => p.id === "openai")!;
    o.models = o.models.filter((m) => m.id !== removedId);
    return dataFile("newer.json", providers);
  }

  it("dry run: the diff (added, changed field old -> new, removed), and nothing changes", async () => {
    expect(anthropic.models.some((m) => m.id === changedId) && openai.models.some((m) => m.id === removedId)).toBe(true);
    const before = await systemModels(admin);
    const res = await admin.refreshCatalog({ dryRun: true, source: newerData() });
    expect(res.dryRun).toBe(true);
    expect(res.added).toEqual(["anthropic/claude-test-9"]);
    expect(res.removed).toEqual([`openai/${removedId}`]);
    expect(res.retiredCount).toBe(1);
    expect(res.dataVersion).toMatch(/^sha256:[0-9a-f]{16}$/);
    const opus = res.changed.find((c) => c.catalogId === "anthropic/claude-opus-4.8");
    expect(opus?.changes.map((c) => [c.field, c.oldValue, c.newValue])).toEqual([["spec.pricing.base.input_usd_per_mtok", '"5"', '"6"']]);
    expect(res.changed).toHaveLength(1);
    expect(await systemModels(admin)).toEqual(before);
  });

  it("apply: the new price with the old kept in history, the new model in every workspace, the removed one retired and never deleted", async () => {
    const ws = modelClient(service.url, await service.token("ws_catalog_existing"));
    const copies = (await ws.listModels({ limit: 1000, filter: `spec.family = "${removedId}"` })).items;
    expect(copies).toHaveLength(1);
    const res = await admin.refreshCatalog({ source: newerData() });
    expect([res.addedCount, res.changedCount, res.retiredCount, res.dryRun]).toEqual([1, 1, 1, false]);

    const models = await systemModels(admin);
    const opus = models.find((m) => m.metadata?.catalogId === "anthropic/claude-opus-4.8")!;
    expect(opus.spec?.pricing?.base?.inputUsdPerMtok).toBe("6");
    expect(opus.spec?.inputPricePerMillionTokens).toBe(600n);
    const history = opus.spec!.priceHistory;
    expect(history.map((h) => h.pricing?.base?.inputUsdPerMtok)).toEqual(["5", "6"]);
    expect(history[0]!.effectiveFrom).toBeUndefined();
    expect(history[1]!.effectiveFrom).toBeDefined();

    const retired = models.find((m) => m.metadata?.catalogId === `openai/${removedId}`)!;
    expect(retired.spec?.lifecycle?.stage).toBe(LifecycleStage.RETIRED);
    // System models' revisions are kept, not served: read from the store.
    const revisions = await service.running.store.listRevisions(retired.metadata!.id, 10);
    expect(revisions.revisions[0]?.changes.map((c) => c.field)).toContain("spec.lifecycle");

    // Existing workspace: the copy is still listed, disabled, and says why (catalog-retirement.test.ts has the details).
    expect((await ws.listModels({ limit: 1000, filter: `spec.family = "${removedId}" AND spec.status = MODEL_STATUS_DISABLED` })).items).toHaveLength(1);
    const copy = await ws.getModel({ id: copies[0]!.metadata!.id });
    expect(copy.spec?.disabledReason).toMatch(/^retired/);
    expect((await ws.listModels({ limit: 1000, filter: 'spec.family = "claude-test-9"' })).items).toHaveLength(1);
    // A new workspace never gets the retired model.
    const fresh = modelClient(service.url, await service.token("ws_catalog_new"));
    expect((await fresh.listModels({ limit: 1000, filter: `spec.family = "${removedId}"`, showDeleted: true })).items).toHaveLength(0);

    // The bundled data again: the model comes back, the price goes back and both prices stay in the history.
    const back = await admin.refreshCatalog({});
    expect(back.changed.map((c) => c.catalogId).sort()).toEqual(["anthropic/claude-opus-4.8", `openai/${removedId}`]);
    expect(back.removed).toEqual(["anthropic/claude-test-9"]);
    const again = (await systemModels(admin)).find((m) => m.metadata?.catalogId === "anthropic/claude-opus-4.8")!;
    expect(again.spec!.priceHistory.map((h) => h.pricing?.base?.inputUsdPerMtok)).toEqual(["5", "6", "5"]);
    expect((await ws.listModels({ limit: 1000, filter: `spec.family = "${removedId}"` })).items).toHaveLength(1);
  });

  it("refuses malformed, truncated, incomplete, all-free and 100 MB files, and URLs unless allowed, changing nothing", async () => {
    const before = await systemModels(admin);
    const text = JSON.stringify(bundled);
    const huge = join(dir, "huge.json");
    writeFileSync(huge, "");
    truncateSync(huge, 100 * 1024 * 1024);
    const free = structuredClone(bundled).map((p) => ({ ...p, models: p.models.map((m) => ({ ...m, prices: { input_mtok: 0 } })) }));
    const cases: Array<[string, Code, RegExp]> = [
      [join(dir, "truncated.json"), Code.InvalidArgument, /not valid JSON/],
      [join(dir, "truncated-real.json"), Code.InvalidArgument, /truncated or malformed/],
      [dataFile("object.json", { providers: [] }), Code.InvalidArgument, /not a JSON array/],
      [dataFile("incomplete.json", bundled.filter((p) => p.id !== "cohere")), Code.InvalidArgument, /no provider "cohere"/],
      [dataFile("negative.json", [{ ...anthropic, models: [{ id: "x", prices: { input_mtok: -1 } }] }, ...bundled.filter((p) => p.id !== "anthropic")]), Code.InvalidArgument, /input_mtok/],
      [dataFile("free.json", free), Code.InvalidArgument, /no model with a price above zero/],
      [huge, Code.InvalidArgument, /104857600 bytes, more than/],
      [join(dir, "missing.json"), Code.InvalidArgument, /cannot open the data file: ENOENT/],
      ["https://example.com/data.json", Code.FailedPrecondition, /MODELSERVICE_CATALOG_FETCH_URLS/],
      ["http://example.com/data.json", Code.InvalidArgument, /https/],
    ];
    writeFileSync(join(dir, "truncated-real.json"), text.slice(0, text.length / 2));
    writeFileSync(join(dir, "truncated.json"), '[{"id": "openai", "models": [');
    for (const [source, code, message] of cases) {
      const err = await failure(admin.refreshCatalog({ source }));
      expect(err.code, source).toBe(code);
      expect(err.message, source).toMatch(message);
      if (code === Code.InvalidArgument) expect(JSON.stringify(err.details), source).toContain("source");
    }
    expect(readFileSync(join(dir, "truncated-real.json")).length).toBeGreaterThan(0);
    expect(await systemModels(admin)).toEqual(before);
  });
});

describe("a database of the old hand-kept catalog", () => {
  const oldEntry = (catalogId: string, family: string, provider: string, input: string): CatalogEntryRecord => ({
    catalogId,
    name: family,
    spec: {
      family,
      provider,
      inputPriceCents: null,
      outputPriceCents: null,
      cachedInputPriceCents: null,
      inputPriceUsd: input,
      outputPriceUsd: null,
      cachedInputPriceUsd: null,
      maxInputTokens: 1050000,
      maxOutputTokens: 1000,
      capabilities: [],
      description: null,
      modelUrl: null,
      ...noFacts,
    },
  });

  it("keeps every old catalog id, model id and status: updated in place from the package", async () => {
    const staged = await stagedDatabase();
    const store = (await staged.open()).models;
    const copy = () => ({ newId: newModelId, now: Date.now() });
    await syncCatalog(
      store,
      [
        oldEntry("anthropic/claude-opus-4.8", "claude-opus-4.8", "anthropic", "4"),
        oldEntry("meta/llama-3.3-70b-instruct", "llama-3.3-70b-instruct", "meta", "0.7"),
        oldEntry("xai/grok-4.5", "grok-4.5", "xai", "2"),
        oldEntry("openai/gpt-5.4-mini", "gpt-5.4-mini", "openai", "0.75"),
      ],
      copy(),
    );
    await store.createWorkspace({ id: "ws_old", accountId: "acct_test" }, Date.now());
    const copies = (await store.listModels({ workspaceId: "ws_old", limit: 100, search: [], labels: [], showDeleted: false, showHidden: false, order: [], rankBySearch: false, descending: false, facets: false })).models;
    const grok = copies.find((m) => m.catalogId === "xai/grok-4.5")!;
    await store.close();

    const upgraded = await startTestService(staged.env);
    try {
      const c = modelClient(upgraded.url, await upgraded.token("ws_old"));
      const disabled = await c.disableModel({ id: grok.id });
      expect(disabled.metadata?.catalogId).toBe("xai/grok-4.5");
      const after = (await c.listModels({ limit: 1000 })).items;
      for (const old of copies) {
        const now = after.find((m) => m.metadata?.id === old.id);
        expect(now, old.catalogId!).toBeDefined();
        expect(now!.metadata?.catalogId).toBe(old.catalogId);
      }
      const byCatalogId = new Map(after.map((m) => [m.metadata!.catalogId!, m]));
      expect(byCatalogId.has("anthropic/claude-opus-4-8")).toBe(false);
      expect(byCatalogId.get("anthropic/claude-opus-4.8")?.spec?.pricing?.base?.inputUsdPerMtok).toBe("5");
      expect(byCatalogId.get("meta/llama-3.3-70b-instruct")?.spec?.provider).toBe("aws");
      // The wrong limit of the old file is corrected from the package.
      expect(byCatalogId.get("openai/gpt-5.4-mini")?.spec?.maxInputTokens).toBe(
        findProvider({ providerId: "openai" })!.models.find((m) => m.id === "gpt-5.4-mini")!.context_window,
      );
      expect(after.filter((m) => m.metadata?.catalogId === "xai/grok-4.5")).toHaveLength(1);

      await upgraded.stop();
      await upgraded.restart();
      const c2 = modelClient(upgraded.url, await upgraded.token("ws_old"));
      expect((await c2.getModel({ id: grok.id })).spec?.status).toBe(disabled.spec?.status);
    } finally {
      await upgraded.dispose();
      await staged.drop();
    }
  });
});

describe("ListModels over the catalog facts", () => {
  let c: ModelClient;
  let all: Model[];
  beforeAll(async () => {
    c = modelClient(service.url, await service.token("ws_catalog_filters"));
    all = (await c.listModels({ limit: 1000 })).items;
  });

  async function matching(filter: string, orderBy = ""): Promise<Model[]> {
    const res = await c.listModels({ filter, orderBy, limit: 1000 });
    expect(res.pagination?.total, filter).toBe(res.items.length);
    return res.items;
  }

  const ids = (models: Model[]) => models.map((m) => m.metadata!.id).sort();

  it("filters by a price component, by its JSON or proto name, and orders by it", async () => {
    const cheap = all.filter((m) => m.spec?.pricing?.base?.inputUsdPerMtok !== undefined && Number(m.spec.pricing.base.inputUsdPerMtok) < 1);
    expect(cheap.length).toBeGreaterThan(10);
    expect(ids(await matching("spec.pricing.base.inputUsdPerMtok < 1"))).toEqual(ids(cheap));
    expect(ids(await matching("spec.pricing.base.input_usd_per_mtok < 1"))).toEqual(ids(cheap));
    const cacheWrites = all.filter((m) => Number(m.spec?.pricing?.base?.cacheWrite1hUsdPerMtok ?? -1) >= 10);
    expect(cacheWrites.length).toBeGreaterThan(0);
    expect(ids(await matching("spec.pricing.base.cache_write_1h_usd_per_mtok >= 10"))).toEqual(ids(cacheWrites));
    const ordered = await matching('spec.provider = "anthropic"', "spec.pricing.base.outputUsdPerMtok desc");
    const prices = ordered.map((m) => Number(m.spec?.pricing?.base?.outputUsdPerMtok ?? -1)).filter((p) => p >= 0);
    expect(prices.length).toBeGreaterThan(5);
    expect(prices).toEqual([...prices].sort((a, b) => b - a));
  });

  it("filters by lifecycle stage, modalities, capabilities and provider together", async () => {
    const expected = all.filter(
      (m) =>
        m.spec?.lifecycle?.stage === LifecycleStage.GA &&
        m.spec.modalities?.input.includes(2 /* MODALITY_IMAGE */) &&
        m.spec.capabilities.includes(2 /* MODEL_CAPABILITY_TOOL_CALLING */) &&
        m.spec.provider === "openai",
    );
    expect(expected.length).toBeGreaterThan(0);
    const found = await matching(
      'spec.lifecycle.stage = LIFECYCLE_STAGE_GA AND spec.modalities.input:MODALITY_IMAGE AND spec.capabilities:MODEL_CAPABILITY_TOOL_CALLING AND spec.provider = "openai"',
    );
    expect(ids(found)).toEqual(ids(expected));
    const withoutStage = await matching("NOT spec.lifecycle.stage:*");
    expect(ids(withoutStage)).toEqual(ids(all.filter((m) => m.spec?.lifecycle === undefined)));
    const err = await failure(c.listModels({ filter: "spec.modalities.input:MODALITY_SMELL" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("MODALITY_IMAGE");
  });
});
