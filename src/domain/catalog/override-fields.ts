import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ModelSpec } from "../../../gen/modelservice/v1/model_pb.js";
import { ModelPricingSchema, PriceHistoryEntrySchema, PriceOverrideSchema, UpstreamChangeSchema } from "../../../gen/modelservice/v1/pricing_pb.js";
import type { ModelSpecRecord } from "../../storage/model-store.js";
import { factFromJson, factToJson, pricingOf } from "../models/spec-facts.js";
import { usdToCents } from "./decimal-price.js";
import { overriddenHistory, overriddenPricing, upstreamChangeAfterRefresh } from "./price-override.js";

type OverriddenFields = Pick<
  ModelSpec,
  | "pricing"
  | "priceHistory"
  | "inputPricePerMillionTokens"
  | "inputPricePerMillionTokensUsd"
  | "outputPricePerMillionTokens"
  | "outputPricePerMillionTokensUsd"
  | "cachedInputPricePerMillionTokens"
  | "cachedInputPricePerMillionTokensUsd"
>;

const cents = (usd: string | undefined) => (usd === undefined ? undefined : BigInt(usdToCents(usd)));

/**
 * The spec fields a workspace's price override changes, as the API returns
 * them: pricing and every history entry with the override applied, and the
 * seed price fields derived from the overridden base tier. Nothing without an
 * override: the stored (catalog) prices stand.
 */
export function priceOverrideFields(s: ModelSpecRecord): Partial<OverriddenFields> {
  const override = factFromJson(PriceOverrideSchema, s.priceOverride);
  if (override === undefined) return {};
  const pricing = overriddenPricing(pricingOf(s), override);
  const base = pricing.base;
  return {
    pricing,
    priceHistory: overriddenHistory(
      s.priceHistory.map((entry) => factFromJson(PriceHistoryEntrySchema, entry)!),
      override,
    ),
    inputPricePerMillionTokens: cents(base?.inputUsdPerMtok),
    inputPricePerMillionTokensUsd: base?.inputUsdPerMtok,
    outputPricePerMillionTokens: cents(base?.outputUsdPerMtok),
    outputPricePerMillionTokensUsd: base?.outputUsdPerMtok,
    cachedInputPricePerMillionTokens: cents(base?.cacheReadUsdPerMtok),
    cachedInputPricePerMillionTokensUsd: base?.cacheReadUsdPerMtok,
  };
}

/**
 * The hook a catalog refresh calls for a workspace copy whose catalog pricing
 * changes from `before` to `after` (stored proto JSON): a copy under a price
 * override records the diff in upstreamChanged until AcknowledgeUpstreamChange
 * clears it. A copy without an override follows the catalog silently.
 */
export function withUpstreamChange(spec: ModelSpecRecord, before: JsonObject | null, after: JsonObject | null, now: number): ModelSpecRecord {
  if (spec.priceOverride === null) return spec;
  const change = upstreamChangeAfterRefresh(
    factFromJson(UpstreamChangeSchema, spec.upstreamChanged),
    factFromJson(ModelPricingSchema, before),
    factFromJson(ModelPricingSchema, after),
    timestampFromMs(now),
  );
  return { ...spec, upstreamChanged: factToJson(UpstreamChangeSchema, change) };
}
