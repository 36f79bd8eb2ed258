import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { calcPrice, findProvider, type ConditionalPrice, type ModelInfo, type ModelPrice, type TieredPrices } from "@pydantic/genai-prices";
import Big from "big.js";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * EstimateCost against the price package's own calcPrice: a sample of its
 * models (with context tiers and dated prices where they have them) becomes
 * models of a workspace, and every estimate over the wire must equal the
 * package's figure up to the package's floating-point error.
 */

let service: TestService;
let client: ModelClient;

/** The package's price keys and the TokenPrices components they are. */
const components: Record<string, string> = {
  input_mtok: "inputUsdPerMtok",
  output_mtok: "outputUsdPerMtok",
  cache_read_mtok: "cacheReadUsdPerMtok",
  cache_write_mtok: "cacheWrite5mUsdPerMtok",
};

const providers = ["openai", "anthropic", "google", "x-ai", "deepseek", "mistral", "groq", "aws"];
const perProvider = 8;

function decimal(n: number): string {
  return new Big(n).toFixed();
}

/** A package price (flat or tiered) as our pricing: the base, and each tier start with the price that applies above it. */
function toPricing(price: ModelPrice): JsonObject {
  const base: JsonObject = {};
  const starts = new Set<number>();
  for (const [key, value] of Object.entries(price)) {
    const component = components[key];
    if (component === undefined || value === undefined) continue;
    if (typeof value === "number") base[component] = decimal(value);
    else {
      base[component] = decimal(value.base);
      for (const t of value.tiers) starts.add(t.start);
    }
  }
  const contextTiers = [...starts]
    .sort((a, b) => a - b)
    .map((start) => {
      const prices: JsonObject = {};
      for (const [key, value] of Object.entries(price)) {
        const component = components[key];
        if (component === undefined || value === undefined || typeof value === "number") continue;
        // The price of the highest tier at or below this start: what the package applies to a request just past it.
        const applying = (value as TieredPrices).tiers.filter((t) => t.start <= start).at(-1);
        if (applying) prices[component] = decimal(applying.price);
      }
      return { aboveInputTokens: String(start), prices };
    });
  return { base, contextTiers };
}

interface Sample {
  provider: string;
  model: ModelInfo;
  /** The undated price, then the dated ones. */
  entries: Array<{ from?: string; price: ModelPrice }>;
  id?: string;
}

const isTiered = (price: ModelPrice) => Object.values(price).some((v) => typeof v === "object");

/**
 * Per provider, up to perProvider of the package's models whose prices change
 * only by date (no time-of-day prices) and price input and output: those with
 * context tiers or dated prices first.
 */
function samples(): Sample[] {
  const out: Sample[] = [];
  for (const providerId of providers) {
    const provider = findProvider({ providerId });
    if (!provider) continue;
    const candidates: Sample[] = [];
    for (const model of provider.models) {
      const list: ConditionalPrice[] = Array.isArray(model.prices) ? model.prices : [{ prices: model.prices }];
      if (list.some((p, i) => (p.constraint === undefined ? i !== 0 : p.constraint.type !== "start_date"))) continue;
      const entries = list.map((p) => ({ from: p.constraint?.type === "start_date" ? p.constraint.start_date : undefined, price: p.prices }));
      if (!entries.every((e) => e.price.input_mtok !== undefined && e.price.output_mtok !== undefined)) continue;
      // calcPrice finds a model by its match rules: keep those it finds by their own id.
      if (calcPrice({ input_tokens: 1 }, model.id, { providerId })?.model.id !== model.id) continue;
      candidates.push({ provider: providerId, model, entries });
    }
    const interest = (s: Sample) => (s.entries.length > 1 ? 2 : 0) + (s.entries.some((e) => isTiered(e.price)) ? 1 : 0);
    out.push(...candidates.sort((a, b) => interest(b) - interest(a)).slice(0, perProvider));
  }
  return out;
}

const sampled = samples();

beforeAll(async () => {
  service = await startTestService();
  const ws = "ws_package";
  client = modelClient(service.url, await service.token(ws));
  const store = service.running.store;
  for (const sample of sampled) {
    const dated = sample.entries.filter((e) => e.from !== undefined);
    const current = sample.entries.at(-1)!.price;
    const created = await client.createModel({
      model: fromJson(ModelSchema, {
        metadata: { name: `${sample.provider} ${sample.model.id}` },
        spec: { provider: sample.provider, family: sample.model.id, pricing: toPricing(current) },
      }),
    });
    sample.id = created.metadata!.id;
    if (dated.length === 0) continue;
    // Dated prices are the catalog's to write (price_history is output only): stored as a refresh stores them.
    const record = (await store.getModel(ws, sample.id))!;
    const priceHistory = sample.entries.map((e) => ({ ...(e.from ? { effectiveFrom: `${e.from}T00:00:00Z` } : {}), pricing: toPricing(e.price) }));
    const outcome = await store.writeModel({
      model: { ...record, spec: { ...record.spec, priceHistory }, version: record.version + 1 },
      expectedVersion: record.version,
      revision: { id: `rev_${ulid()}`, modelId: record.id, action: "REVISION_ACTION_UPDATE", profileId: "profile_system", requestId: "", changes: [], createdAt: Date.now() },
    });
    expect(outcome.kind).toBe("written");
  }
});
afterAll(() => service.dispose());

describe("EstimateCost agrees with the price package's calcPrice", () => {
  it("samples models of every major provider, tiered and dated ones among them", () => {
    expect(new Set(sampled.map((s) => s.provider)).size).toBeGreaterThanOrEqual(5);
    expect(sampled.some((s) => s.entries.some((e) => isTiered(e.price)))).toBe(true);
    expect(sampled.some((s) => s.entries.length > 1)).toBe(true);
  });

  it("for small and long-context usages, today and at each dated price", async () => {
    const usages = [
      { input: 1_234, cacheRead: 500, cacheWrite: 100, output: 321 },
      { input: 180_000, cacheRead: 60_000, cacheWrite: 20_000, output: 4_000 },
      { input: 900_000, cacheRead: 90_000, cacheWrite: 9_000, output: 30_000 },
    ];
    const checks: Array<{ sample: Sample; usage: (typeof usages)[number]; time: Date }> = [];
    for (const sample of sampled) {
      const times = [new Date(), ...sample.entries.flatMap((e) => (e.from ? [new Date(Date.parse(`${e.from}T00:00:00Z`) + 3_600_000)] : []))];
      for (const time of times) for (const usage of usages) checks.push({ sample, usage, time });
    }
    const requests = checks.map(({ sample, usage, time }) => {
      const price = sample.entries.at(-1)!.price;
      // A count whose price the model lacks stays 0: the package bills it as plain input, EstimateCost refuses it.
      const cacheRead = price.cache_read_mtok === undefined ? 0 : usage.cacheRead;
      const cacheWrite = price.cache_write_mtok === undefined ? 0 : usage.cacheWrite;
      return { id: sample.id!, usage: { inputTokens: BigInt(usage.input), cacheReadTokens: BigInt(cacheRead), cacheWrite5mTokens: BigInt(cacheWrite), outputTokens: BigInt(usage.output) }, time: timestampFromDate(time) };
    });
    const answers = [];
    for (let i = 0; i < requests.length; i += 1000) answers.push(...(await client.batchEstimateCost({ requests: requests.slice(i, i + 1000) })).estimates);
    expect(answers).toHaveLength(checks.length);
    // The comparison covers long-context tiers and prices of more than one date.
    expect(answers.some((a) => a.contextTierAboveInputTokens !== undefined)).toBe(true);
    expect(new Set(answers.flatMap((a) => (a.priceEffectiveFrom ? [a.priceEffectiveFrom.seconds] : []))).size).toBeGreaterThan(1);
    for (const [i, { sample, time }] of checks.entries()) {
      const usage = requests[i]!.usage;
      const expected = calcPrice(
        {
          input_tokens: Number(usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens),
          cache_read_tokens: Number(usage.cacheReadTokens),
          cache_write_tokens: Number(usage.cacheWrite5mTokens),
          output_tokens: Number(usage.outputTokens),
        },
        sample.model.id,
        { providerId: sample.provider, timestamp: time },
      )!;
      const ours = Number(answers[i]!.totalUsd);
      const what = `${sample.provider}/${sample.model.id} at ${time.toISOString()} ${JSON.stringify(usage, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}`;
      expect(Math.abs(ours - expected.total_price), what).toBeLessThanOrEqual(1e-9 * Math.max(1, expected.total_price));
    }
  });
});

describe("EstimateCost of the catalog's models agrees with calcPrice", () => {
  it("for every catalog model of a workspace, by catalog id, today", async () => {
    const copies = [];
    let cursor = "";
    do {
      const page = await client.listModels({ filter: "metadata.origin = MODEL_ORIGIN_SYSTEM", limit: 1000, cursor });
      copies.push(...page.items);
      cursor = page.pagination?.nextCursor ?? "";
    } while (cursor !== "");
    const time = new Date();
    // Input, cache read and output, each where the model prices it; one request past 200,000 input tokens.
    const priced = copies.filter((m) => m.spec?.pricing?.base?.inputUsdPerMtok !== undefined && m.spec.pricing.base.outputUsdPerMtok !== undefined);
    const checks = priced.flatMap((m) => {
      const cacheRead = m.spec!.pricing!.base!.cacheReadUsdPerMtok === undefined ? 0n : 30_000n;
      return [1_000n, 250_000n].map((input) => ({ model: m, usage: { inputTokens: input, cacheReadTokens: cacheRead, outputTokens: 2_000n } }));
    });
    expect(checks.length).toBeGreaterThan(100);
    const answers = [];
    for (let i = 0; i < checks.length; i += 1000) {
      const requests = checks.slice(i, i + 1000).map((c) => ({ catalogId: c.model.metadata!.catalogId!, usage: c.usage, time: timestampFromDate(time) }));
      answers.push(...(await client.batchEstimateCost({ requests })).estimates);
    }
    let compared = 0;
    for (const [i, { model, usage }] of checks.entries()) {
      const expected = calcPrice(
        { input_tokens: Number(usage.inputTokens + usage.cacheReadTokens), cache_read_tokens: Number(usage.cacheReadTokens), output_tokens: Number(usage.outputTokens) },
        model.spec!.family!,
        { providerId: model.spec!.provider!, timestamp: time },
      );
      // Models the package finds under another entry's match rules are compared where they are that entry;
      // prices by time of day (off-peak discounts) are not in the catalog's dated history.
      if (!expected || expected.model.id !== model.spec!.family) continue;
      const prices = expected.model.prices;
      if (Array.isArray(prices) && prices.some((p) => p.constraint?.type === "time_of_date")) continue;
      const what = `${model.metadata!.catalogId} ${usage.inputTokens} input tokens`;
      expect(Math.abs(Number(answers[i]!.totalUsd) - expected.total_price), what).toBeLessThanOrEqual(1e-9 * Math.max(1, expected.total_price));
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
  });
});
