import { fromJson, toJson, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import type { ModelSpec } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ModalitiesSchema,
  ModelLifecycleSchema,
  ModelPricingSchema,
  type ModelPricing,
  ModelSourceSchema,
  PriceHistoryEntrySchema,
  PriceOverrideSchema,
  ReasoningSupportSchema,
  TemperatureSupportSchema,
  UpstreamChangeSchema,
} from "../../../gen/modelservice/v1/pricing_pb.js";
import type { ModelSpecRecord } from "../../storage/model-store.js";
import { usdToCents } from "../catalog/decimal-price.js";

/**
 * The structured facts of a spec (pricing, history, lifecycle, source,
 * modalities, reasoning, temperature, override, upstream change) between the
 * messages of the API and the proto JSON the store keeps.
 */

/** Stored data is this service's own: fields a later release added are skipped, not refused. */
const lenient = { ignoreUnknownFields: true } as const;

export function factToJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc> | undefined): JsonObject | null {
  return message === undefined ? null : (toJson(schema, message) as JsonObject);
}

export function factFromJson<Desc extends DescMessage>(schema: Desc, json: JsonObject | null): MessageShape<Desc> | undefined {
  return json === null ? undefined : fromJson(schema, json, lenient);
}

/** The spec's exact prices, when it has any. */
export function pricingOf(spec: ModelSpecRecord): ModelPricing | undefined {
  return factFromJson(ModelPricingSchema, spec.pricing);
}

/** The spec's facts as message fields, for the API resource. */
export function factFields(s: ModelSpecRecord): Pick<
  ModelSpec,
  "pricing" | "priceHistory" | "lifecycle" | "source" | "modalities" | "reasoning" | "temperature" | "priceOverride" | "upstreamChanged"
> {
  return {
    pricing: factFromJson(ModelPricingSchema, s.pricing),
    priceHistory: s.priceHistory.map((entry) => fromJson(PriceHistoryEntrySchema, entry, lenient)),
    lifecycle: factFromJson(ModelLifecycleSchema, s.lifecycle),
    source: factFromJson(ModelSourceSchema, s.source),
    modalities: factFromJson(ModalitiesSchema, s.modalities),
    reasoning: factFromJson(ReasoningSupportSchema, s.reasoning),
    temperature: factFromJson(TemperatureSupportSchema, s.temperature),
    priceOverride: factFromJson(PriceOverrideSchema, s.priceOverride),
    upstreamChanged: factFromJson(UpstreamChangeSchema, s.upstreamChanged),
  };
}

/** The seed price fields and the base-tier component each is derived from (proto JSON name). */
const seedPrices = [
  { path: "input_price_per_million_tokens", cents: "inputPriceCents", usd: "inputPriceUsd", base: "inputUsdPerMtok" },
  { path: "output_price_per_million_tokens", cents: "outputPriceCents", usd: "outputPriceUsd", base: "outputUsdPerMtok" },
  { path: "cached_input_price_per_million_tokens", cents: "cachedInputPriceCents", usd: "cachedInputPriceUsd", base: "cacheReadUsdPerMtok" },
] as const;

/** The seed fields (cents rounded half up, exact dollars) derived from the pricing's base tier. */
export function withSeedPricesFromPricing(spec: ModelSpecRecord): ModelSpecRecord {
  const out = { ...spec };
  const base = spec.pricing?.base as JsonObject | undefined;
  for (const p of seedPrices) {
    const usd = typeof base?.[p.base] === "string" ? (base[p.base] as string) : null;
    out[p.usd] = usd;
    out[p.cents] = usd === null ? null : usdToCents(usd);
  }
  return out;
}

/** The pricing with the seed fields (those whose update path `given` accepts) written into its base tier. */
export function withPricingFromSeedPrices(spec: ModelSpecRecord, given: (path: string) => boolean = () => true): ModelSpecRecord {
  const base: JsonObject = { ...((spec.pricing?.base as JsonObject | undefined) ?? {}) };
  for (const p of seedPrices) {
    if (!given(p.path) && !given(p.path + "_usd")) continue;
    const usd = spec[p.usd];
    if (usd === null) delete base[p.base];
    else base[p.base] = usd;
  }
  const tiers = spec.pricing?.contextTiers;
  const empty = Object.keys(base).length === 0 && (tiers === undefined || (Array.isArray(tiers) && tiers.length === 0));
  return { ...spec, pricing: empty ? null : { ...spec.pricing, base } };
}

/** Facts no catalog or request gave yet: all unset. */
export const noFacts: Pick<
  ModelSpecRecord,
  "pricing" | "priceHistory" | "lifecycle" | "source" | "modalities" | "reasoning" | "temperature" | "priceOverride" | "upstreamChanged"
> = {
  pricing: null,
  priceHistory: [],
  lifecycle: null,
  source: null,
  modalities: null,
  reasoning: null,
  temperature: null,
  priceOverride: null,
  upstreamChanged: null,
};
