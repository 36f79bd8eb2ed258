import type { JsonObject } from "@bufbuild/protobuf";
import type { CatalogEntryRecord } from "../../storage/model-store.js";
import { noFacts, withSeedPricesFromPricing } from "../models/spec-facts.js";
import { catalogOverlay, type OverlayFacts } from "./catalog-overlay.js";
import { decimalOfFloat } from "./decimal-price.js";
import { legacyCatalogIds } from "./legacy-catalog-ids.js";
import { PriceDataError, type PackageModel, type PackagePrice, type PackagePrices, type PackageProvider, type PriceData } from "./price-data.js";

/**
 * The catalog entries of price data: every model the data does not mark
 * deprecated, of the providers asked for, with the overlay's facts.
 */

/** The package's price keys and the TokenPrices component (proto JSON name) each fills; other keys are left unknown. */
export const priceComponents: ReadonlyArray<readonly [packageKey: string, component: string]> = [
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

const int32Max = 2 ** 31 - 1;

/**
 * ModelPricing (proto JSON) of one package price set. A component's tiers
 * become context tiers: each tier lists every component's price in effect
 * above its threshold (a component without a tier there keeps its base price).
 */
export function pricingOfPrices(prices: PackagePrices): JsonObject | null {
  const base: JsonObject = {};
  const tiered: Array<[string, Extract<PackagePrice, object>]> = [];
  for (const [key, component] of priceComponents) {
    const price = prices[key];
    if (price === undefined) continue;
    if (typeof price === "number") {
      base[component] = decimalOfFloat(price);
    } else {
      const zeroTier = [...price.tiers].filter((t) => t.start === 0).pop();
      base[component] = decimalOfFloat(zeroTier?.price ?? price.base);
      tiered.push([component, price]);
    }
  }
  const starts = [...new Set(tiered.flatMap(([, p]) => p.tiers.map((t) => t.start)).filter((s) => s > 0))].sort((a, b) => a - b);
  const contextTiers = starts.map((start) => {
    const tierPrices: JsonObject = {};
    for (const [component, price] of tiered) {
      const inEffect = price.tiers.filter((t) => t.start > 0 && t.start <= start).sort((a, b) => a.start - b.start).pop();
      if (inEffect) tierPrices[component] = decimalOfFloat(inEffect.price);
    }
    return { aboveInputTokens: String(start), prices: tierPrices };
  });
  if (Object.keys(base).length === 0 && contextTiers.length === 0) return null;
  return contextTiers.length > 0 ? { base, contextTiers } : { base };
}

/**
 * The pricing in effect at `now` and the dated history, of a model's prices.
 * Prices for a time of day (peak / off-peak windows) cannot be expressed as a
 * catalog price and are left out: the all-day price stands.
 */
export function pricesAt(model: PackageModel, now: number): { pricing: JsonObject | null; history: JsonObject[] } {
  if (!Array.isArray(model.prices)) return { pricing: pricingOfPrices(model.prices), history: [] };
  const dated = model.prices.filter((p) => p.constraint?.type !== "time_of_date");
  let current = dated[0] ?? model.prices[0]!;
  for (const p of dated) {
    if (p.constraint === undefined || (p.constraint.type === "start_date" && Date.parse(p.constraint.start_date) <= now)) current = p;
  }
  const hasDates = dated.some((p) => p.constraint?.type === "start_date");
  const history = hasDates
    ? dated.map((p): JsonObject => {
        const pricing = pricingOfPrices(p.prices) ?? {};
        return p.constraint?.type === "start_date" ? { effectiveFrom: new Date(p.constraint.start_date).toISOString(), pricing } : { pricing };
      })
    : [];
  return { pricing: pricingOfPrices(current.prices), history };
}

function capabilitiesOf(overlay: OverlayFacts | undefined, pricing: JsonObject | null): string[] {
  if (overlay?.capabilities) return overlay.capabilities;
  // A cache-read price is the package's own word that the model caches prompts.
  return (pricing?.base as JsonObject | undefined)?.cacheReadUsdPerMtok !== undefined ? ["MODEL_CAPABILITY_PROMPT_CACHING"] : [];
}

function entryOf(provider: PackageProvider, model: PackageModel, data: PriceData, now: number): CatalogEntryRecord {
  const key = `${provider.id}/${model.id}`;
  const overlay = catalogOverlay().get(key);
  const { pricing, history } = pricesAt(model, now);
  const contextWindow = model.context_window !== undefined && model.context_window <= int32Max ? model.context_window : null;
  return {
    catalogId: legacyCatalogIds.get(key) ?? key,
    name: overlay?.displayName ?? model.name ?? model.id,
    spec: withSeedPricesFromPricing({
      family: model.id,
      provider: provider.id,
      inputPriceCents: null,
      outputPriceCents: null,
      cachedInputPriceCents: null,
      inputPriceUsd: null,
      outputPriceUsd: null,
      cachedInputPriceUsd: null,
      maxInputTokens: contextWindow,
      maxOutputTokens: overlay?.maxOutputTokens ?? null,
      capabilities: capabilitiesOf(overlay, pricing),
      description: model.description ?? null,
      modelUrl: null,
      ...noFacts,
      pricing,
      priceHistory: history,
      lifecycle: overlay?.lifecycle ?? null,
      source: { url: provider.pricing_urls?.[0] ?? "https://github.com/pydantic/genai-prices", dataVersion: data.version },
      modalities: overlay?.modalities ?? null,
      reasoning: overlay?.reasoning ?? null,
      temperature: overlay?.temperature ?? null,
    }),
  };
}

/**
 * The entries of every non-deprecated model of the providers, in data order.
 * Refuses data in which no model has a price above zero: a source that would
 * make the whole catalog free is broken, not generous.
 */
export function catalogEntries(data: PriceData, now: number): CatalogEntryRecord[] {
  const entries: CatalogEntryRecord[] = [];
  const seen = new Set<string>();
  for (const provider of data.providers.values()) {
    for (const model of provider.models) {
      if (model.deprecated) continue;
      const entry = entryOf(provider, model, data, now);
      // The package lists a model once per provider; a repeated id would be a second row of the same model.
      if (seen.has(entry.catalogId)) continue;
      seen.add(entry.catalogId);
      entries.push(entry);
    }
  }
  const priced = entries.some((e) => Object.values((e.spec.pricing?.base as JsonObject | undefined) ?? {}).some((p) => p !== "0"));
  if (!priced) throw new PriceDataError("the data has no model with a price above zero");
  return entries;
}
