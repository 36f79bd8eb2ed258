import Big from "big.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { CostUsage } from "../../../gen/modelservice/v1/model_service_pb.js";
import type { ModelPricing, PriceHistoryEntry, TokenPrices } from "../../../gen/modelservice/v1/pricing_pb.js";

/** A price component of TokenPrices: its proto name and its property. */
interface PriceComponent {
  name: string;
  key: keyof TokenPrices & `${string}Usd${string}`;
}

/** A usage count, the component it is billed at, and the one it falls back to when that has no price. */
interface UsageLine {
  usage: keyof CostUsage & `${string}${"Tokens" | "Searches"}`;
  /** The usage field as the API names it (JSON), for error messages. */
  field: string;
  price: PriceComponent;
  fallback?: PriceComponent;
}

const component = (name: string, key: PriceComponent["key"]): PriceComponent => ({ name, key });
const input = component("input_usd_per_mtok", "inputUsdPerMtok");
const output = component("output_usd_per_mtok", "outputUsdPerMtok");

/** Every usage count, in the order of TokenPrices; input counts are disjoint (CostUsage). */
const usageLines: readonly UsageLine[] = [
  { usage: "inputTokens", field: "usage.inputTokens", price: input },
  { usage: "outputTokens", field: "usage.outputTokens", price: output },
  { usage: "cacheReadTokens", field: "usage.cacheReadTokens", price: component("cache_read_usd_per_mtok", "cacheReadUsdPerMtok") },
  { usage: "cacheWrite5mTokens", field: "usage.cacheWrite5mTokens", price: component("cache_write_5m_usd_per_mtok", "cacheWrite5mUsdPerMtok") },
  { usage: "cacheWrite1hTokens", field: "usage.cacheWrite1hTokens", price: component("cache_write_1h_usd_per_mtok", "cacheWrite1hUsdPerMtok") },
  {
    usage: "reasoningTokens",
    field: "usage.reasoningTokens",
    price: component("reasoning_output_usd_per_mtok", "reasoningOutputUsdPerMtok"),
    fallback: output,
  },
  { usage: "audioInputTokens", field: "usage.audioInputTokens", price: component("audio_input_usd_per_mtok", "audioInputUsdPerMtok") },
  { usage: "audioOutputTokens", field: "usage.audioOutputTokens", price: component("audio_output_usd_per_mtok", "audioOutputUsdPerMtok") },
  { usage: "imageInputTokens", field: "usage.imageInputTokens", price: component("image_input_usd_per_mtok", "imageInputUsdPerMtok") },
  { usage: "imageOutputTokens", field: "usage.imageOutputTokens", price: component("image_output_usd_per_mtok", "imageOutputUsdPerMtok") },
  { usage: "webSearches", field: "usage.webSearches", price: component("web_search_usd_per_k", "webSearchUsdPerK") },
];

/** The usage counts that make a request's input size, which picks the context tier. */
const inputCounts = ["inputTokens", "cacheReadTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "audioInputTokens", "imageInputTokens"] as const;

const perMillion = new Big("0.000001");
const perThousand = new Big("0.001");

/** The cost of one price component. */
export interface ComponentCost {
  /** As named in TokenPrices ("input_usd_per_mtok"). */
  component: string;
  quantity: bigint;
  unitPriceUsd: string;
  costUsd: string;
}

export interface CostEstimate {
  /** Exact decimal, no exponent ("0.0375"). */
  totalUsd: string;
  components: ComponentCost[];
  /** above_input_tokens of the context tier applied; undefined for the base tier. */
  contextTierAboveInputTokens?: bigint;
  /** When the prices applied took effect; undefined when they come from no dated entry. */
  priceEffectiveFrom?: Timestamp;
}

/** What a model's prices are, as EstimateCost reads them (the workspace's override already applied). */
export interface PricedModel {
  pricing?: ModelPricing;
  priceHistory: readonly PriceHistoryEntry[];
}

/** A usage the model's prices cannot bill: the usage fields used whose price is unknown. */
export class UnpricedUsageError extends Error {
  constructor(readonly missing: ReadonlyArray<{ field: string; component: string }>) {
    super(missing.map((m) => `${m.field} is used but the model has no ${m.component} price`).join("; "));
  }
}

/**
 * The dated prices in effect at `at` (epoch ms): the latest history entry
 * that took effect by then. Before the first entry, the first applies, as the
 * price package does; an entry without a date has applied from the start.
 * Without history, the model's pricing applies.
 */
export function pricingAt(model: PricedModel, at: number): { pricing?: ModelPricing; effectiveFrom?: Timestamp } {
  const dated = [...model.priceHistory].sort((a, b) => startOf(a) - startOf(b));
  if (dated.length === 0) return { pricing: model.pricing };
  let chosen = dated[0]!;
  for (const entry of dated) if (startOf(entry) <= at) chosen = entry;
  return { pricing: chosen.pricing, effectiveFrom: chosen.effectiveFrom };
}

function startOf(entry: PriceHistoryEntry): number {
  return entry.effectiveFrom ? timestampMs(entry.effectiveFrom) : Number.NEGATIVE_INFINITY;
}

/** Tokens of the request's input, all kinds together: the size the context tiers are measured against. */
export function requestInputTokens(usage: CostUsage): bigint {
  return inputCounts.reduce((sum, key) => sum + usage[key], 0n);
}

/**
 * The exact cost of `usage` at `at` (epoch ms): the prices in effect then,
 * the highest context tier whose above_input_tokens the request's input
 * exceeds (it applies to the whole request; a component the tier leaves out
 * keeps the base price), reasoning at its own price or else the output price.
 * A count above zero whose price is unknown throws UnpricedUsageError: an
 * unknown price is never taken as free.
 */
export function estimateCost(model: PricedModel, usage: CostUsage, at: number): CostEstimate {
  const { pricing, effectiveFrom } = pricingAt(model, at);
  const size = requestInputTokens(usage);
  const tier = [...(pricing?.contextTiers ?? [])]
    .sort((a, b) => (a.aboveInputTokens < b.aboveInputTokens ? -1 : 1))
    .filter((t) => size > t.aboveInputTokens)
    .at(-1);
  const priceOf = (c: PriceComponent): string | undefined => tier?.prices?.[c.key] ?? pricing?.base?.[c.key];
  const billed = new Map<string, { quantity: bigint; unitPriceUsd: string; perUnit: Big }>();
  const missing: Array<{ field: string; component: string }> = [];
  for (const line of usageLines) {
    const quantity = usage[line.usage];
    if (quantity === 0n) continue;
    const price = [line.price, line.fallback].find((c) => c !== undefined && priceOf(c) !== undefined);
    if (price === undefined) {
      missing.push({ field: line.field, component: line.price.name });
      continue;
    }
    const unitPriceUsd = priceOf(price)!;
    const sum = billed.get(price.name);
    billed.set(price.name, {
      quantity: (sum?.quantity ?? 0n) + quantity,
      unitPriceUsd,
      perUnit: price.key === "webSearchUsdPerK" ? perThousand : perMillion,
    });
  }
  if (missing.length > 0) throw new UnpricedUsageError(missing);
  let total = new Big(0);
  const components: ComponentCost[] = [];
  for (const [name, line] of billed) {
    const cost = new Big(line.unitPriceUsd).times(line.quantity.toString()).times(line.perUnit);
    total = total.plus(cost);
    components.push({ component: name, quantity: line.quantity, unitPriceUsd: line.unitPriceUsd, costUsd: decimalText(cost) });
  }
  return {
    totalUsd: decimalText(total),
    components,
    contextTierAboveInputTokens: tier?.aboveInputTokens,
    priceEffectiveFrom: effectiveFrom,
  };
}

/** An exact decimal in plain notation without trailing zeros ("0.0375", "12"). */
export function decimalText(value: Big): string {
  return value.toFixed();
}

/** The exact sum of decimal amounts. */
export function sumUsd(amounts: readonly string[]): string {
  return decimalText(amounts.reduce((sum, a) => sum.plus(a), new Big(0)));
}
