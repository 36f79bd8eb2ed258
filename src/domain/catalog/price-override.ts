import Big from "big.js";
import { clone, create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ModelPricingSchema,
  PriceChangeSchema,
  PriceHistoryEntrySchema,
  TokenPricesSchema,
  UpstreamChangeSchema,
  type ModelPricing,
  type PriceChange,
  type PriceHistoryEntry,
  type PriceOverride,
  type TokenPrices,
  type UpstreamChange,
} from "../../../gen/modelservice/v1/pricing_pb.js";
import { decimalText } from "./cost-estimate.js";

type PriceKey = keyof TokenPrices & `${string}Usd${string}`;

/** Every price component of TokenPrices: its proto name and its property, in field order. */
const priceFields: ReadonlyArray<{ name: string; key: PriceKey }> = TokenPricesSchema.fields.map((f) => ({
  name: f.name,
  key: f.localName as PriceKey,
}));

/** `price` less `percent` percent, exact ("2.5" less "10" is "2.25"). */
function discounted(price: string, percent: string): string {
  return decimalText(new Big(price).times(new Big(100).minus(percent)).div(100));
}

/**
 * The catalog prices of one tier as the workspace pays them: an absolute
 * override price replaces the catalog's; every other known price is reduced
 * by the discount. An unknown price stays unknown.
 */
function overriddenPrices(prices: TokenPrices | undefined, override: PriceOverride, isBase: boolean): TokenPrices {
  const out = create(TokenPricesSchema);
  for (const { key } of priceFields) {
    const absolute = override.prices?.[key];
    const catalog = prices?.[key];
    // An absolute price is flat: set on the base tier, left out of the higher tiers so the base applies there too.
    if (absolute !== undefined) {
      if (isBase) out[key] = absolute;
    } else if (catalog !== undefined) {
      out[key] = override.discountPercent === undefined ? catalog : discounted(catalog, override.discountPercent);
    }
  }
  return out;
}

/** A pricing with the workspace's override applied, to the base and to every context tier alike. */
export function overriddenPricing(pricing: ModelPricing | undefined, override: PriceOverride): ModelPricing {
  return create(ModelPricingSchema, {
    base: overriddenPrices(pricing?.base, override, true),
    contextTiers: (pricing?.contextTiers ?? []).map((tier) => ({
      aboveInputTokens: tier.aboveInputTokens,
      prices: overriddenPrices(tier.prices, override, false),
    })),
  });
}

/** A price history with the workspace's override applied to every entry, as to the current pricing. */
export function overriddenHistory(history: readonly PriceHistoryEntry[], override: PriceOverride): PriceHistoryEntry[] {
  return history.map((entry) =>
    create(PriceHistoryEntrySchema, { effectiveFrom: entry.effectiveFrom, pricing: overriddenPricing(entry.pricing, override) }),
  );
}

/** "base.input_usd_per_mtok" / "context_tiers[above 200000].output_usd_per_mtok" -> price, for every known price. */
function pricePaths(pricing: ModelPricing | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const add = (prefix: string, prices: TokenPrices | undefined) => {
    for (const { name, key } of priceFields) {
      const value = prices?.[key];
      if (value !== undefined) out.set(`${prefix}.${name}`, value);
    }
  };
  add("base", pricing?.base);
  for (const tier of pricing?.contextTiers ?? []) add(`context_tiers[above ${tier.aboveInputTokens}]`, tier.prices);
  return out;
}

/** The catalog price components that differ between two pricings, by path. */
export function priceChanges(before: ModelPricing | undefined, after: ModelPricing | undefined): PriceChange[] {
  const old = pricePaths(before);
  const now = pricePaths(after);
  const paths = [...new Set([...old.keys(), ...now.keys()])];
  return paths
    .filter((path) => old.get(path) !== now.get(path))
    .map((path) => create(PriceChangeSchema, { field: path, oldValue: old.get(path), newValue: now.get(path) }));
}

/**
 * What a model with a price override carries after a refresh changed its
 * catalog pricing from `before` to `after`: the diff since the last
 * acknowledgement. A change still unacknowledged keeps its old values and its
 * detection time; a price that went back to its acknowledged value drops out.
 * Undefined when nothing differs from what was acknowledged.
 */
export function upstreamChangeAfterRefresh(
  pending: UpstreamChange | undefined,
  before: ModelPricing | undefined,
  after: ModelPricing | undefined,
  detectedAt: Timestamp,
): UpstreamChange | undefined {
  const byField = new Map((pending?.changes ?? []).map((c) => [c.field, clone(PriceChangeSchema, c)]));
  for (const change of priceChanges(before, after)) {
    const earlier = byField.get(change.field);
    if (earlier) earlier.newValue = change.newValue;
    else byField.set(change.field, change);
  }
  const changes = [...byField.values()].filter((c) => c.oldValue !== c.newValue);
  if (changes.length === 0) return undefined;
  return create(UpstreamChangeSchema, { detectedAt: pending?.detectedAt ?? detectedAt, changes });
}
