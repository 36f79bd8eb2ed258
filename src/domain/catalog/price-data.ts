import { findProvider } from "@pydantic/genai-prices";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The price data of @pydantic/genai-prices: the data bundled with the
 * package, or a newer data file in the package's JSON format (an array of
 * providers, as at the package's REMOTE_DATA_JSON_URL), checked here.
 */

/** A price: per unit, or by input size (the tier whose start the request's input tokens exceed). */
export type PackagePrice = number | { base: number; tiers: Array<{ start: number; price: number }> };

export interface PackagePrices {
  [key: string]: PackagePrice | undefined;
}

export interface PackageModel {
  id: string;
  name?: string;
  description?: string;
  context_window?: number;
  deprecated?: boolean;
  /** One price, or prices that apply from a date or at a time of day (the last that applies wins). */
  prices: PackagePrices | Array<{ constraint?: { type: "start_date"; start_date: string } | { type: "time_of_date"; start_time: string; end_time: string }; prices: PackagePrices }>;
}

export interface PackageProvider {
  id: string;
  name: string;
  pricing_urls?: string[];
  models: PackageModel[];
}

export interface PriceData {
  providers: Map<string, PackageProvider>;
  /** "@pydantic/genai-prices@0.1.8", or "sha256:<first 16 hex>" of a data file. */
  version: string;
}

/** A data file that cannot be used, and why. */
export class PriceDataError extends Error {}

/** The package exports no package.json: it is found beside its entry point (dist/). */
const packageVersion = (
  JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve("@pydantic/genai-prices")), "..", "package.json"), "utf8")) as {
    version: string;
  }
).version;

/** The data bundled with the installed package, for the given provider ids. */
export function bundledPriceData(providerIds: readonly string[]): PriceData {
  const providers = new Map<string, PackageProvider>();
  for (const id of providerIds) {
    const found = findProvider({ providerId: id });
    if (!found || found.id !== id) throw new PriceDataError(`the price package has no provider "${id}"`);
    providers.set(id, found as PackageProvider);
  }
  return { providers, version: `@pydantic/genai-prices@${packageVersion}` };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isPrice = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

function checkPrices(prices: unknown, where: string): void {
  if (!isObject(prices)) throw new PriceDataError(`${where}: prices is not an object`);
  for (const [key, price] of Object.entries(prices)) {
    if (price === undefined || isPrice(price)) continue;
    const tiered =
      isObject(price) &&
      isPrice(price.base) &&
      Array.isArray(price.tiers) &&
      price.tiers.every((t: unknown) => isObject(t) && isPrice(t.price) && Number.isSafeInteger(t.start) && (t.start as number) >= 0);
    if (!tiered) throw new PriceDataError(`${where}: price ${key} is neither a non-negative number nor tiered prices`);
  }
}

function checkModel(model: unknown, where: string): asserts model is PackageModel {
  if (!isObject(model) || typeof model.id !== "string" || model.id === "") throw new PriceDataError(`${where}: a model has no id`);
  const at = `${where} model "${model.id}"`;
  if (model.context_window !== undefined && !(Number.isSafeInteger(model.context_window) && (model.context_window as number) > 0)) {
    throw new PriceDataError(`${at}: context_window is not a positive integer`);
  }
  if (Array.isArray(model.prices)) {
    if (model.prices.length === 0) throw new PriceDataError(`${at}: no prices`);
    for (const conditional of model.prices) {
      if (!isObject(conditional)) throw new PriceDataError(`${at}: a conditional price is not an object`);
      const c = conditional.constraint;
      const known =
        c === undefined ||
        (isObject(c) && c.type === "start_date" && typeof c.start_date === "string" && !Number.isNaN(Date.parse(c.start_date))) ||
        (isObject(c) && c.type === "time_of_date" && typeof c.start_time === "string" && typeof c.end_time === "string");
      if (!known) throw new PriceDataError(`${at}: unknown price constraint`);
      checkPrices(conditional.prices, at);
    }
  } else {
    checkPrices(model.prices, at);
  }
}

/**
 * A data file's text, checked: JSON (a truncated file is not), an array of
 * providers each with an id and models with ids and prices that are
 * non-negative numbers or tiers, holding every provider asked for.
 */
export function parsePriceData(text: string, providerIds: readonly string[]): PriceData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PriceDataError(`the data file is not valid JSON (truncated or malformed): ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(data)) throw new PriceDataError("the data file is not a JSON array of providers");
  const providers = new Map<string, PackageProvider>();
  for (const provider of data as unknown[]) {
    if (!isObject(provider) || typeof provider.id !== "string" || !Array.isArray(provider.models)) {
      throw new PriceDataError("the data file has a provider without an id or models");
    }
    if (!providerIds.includes(provider.id)) continue;
    provider.models.forEach((m: unknown) => checkModel(m, `provider "${provider.id as string}"`));
    providers.set(provider.id, { ...provider, name: typeof provider.name === "string" ? provider.name : provider.id } as PackageProvider);
  }
  const missing = providerIds.filter((id) => !providers.has(id));
  if (missing.length > 0) throw new PriceDataError(`the data file has no provider ${missing.map((id) => `"${id}"`).join(", ")}`);
  return { providers, version: `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 16)}` };
}
