import { ModelCapability } from "../../../gen/modelservice/v1/model_pb.js";
import type { CatalogEntryRecord } from "../../storage/model-store.js";
import { readFileSync } from "node:fs";
import { isDecimalUsd, usdToCents } from "./decimal-price.js";
import { noFacts } from "../models/spec-facts.js";

/** One entry of platform-catalog.json. */
export interface CatalogFileEntry {
  catalogId: string;
  provider: string;
  family: string;
  displayName: string;
  inputPriceUsdPerMillionTokens: string;
  outputPriceUsdPerMillionTokens: string;
  cachedInputPriceUsdPerMillionTokens?: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  capabilities: string[];
  source: string;
  sourceDate: string;
}

const int32Max = 2 ** 31 - 1;

function check(condition: boolean, entry: CatalogFileEntry, problem: string): void {
  if (!condition) throw new Error(`platform catalog entry "${entry.catalogId}": ${problem}`);
}

function toRecord(entry: CatalogFileEntry): CatalogEntryRecord {
  check(/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/.test(entry.catalogId), entry, "malformed catalogId");
  check(entry.catalogId === `${entry.provider}/${entry.family}`, entry, "catalogId is not provider/family");
  check(entry.displayName.trim() !== "", entry, "empty displayName");
  const prices = [
    entry.inputPriceUsdPerMillionTokens,
    entry.outputPriceUsdPerMillionTokens,
    entry.cachedInputPriceUsdPerMillionTokens,
  ];
  for (const price of prices) check(price === undefined || isDecimalUsd(price), entry, `bad price "${price}"`);
  for (const limit of [entry.maxInputTokens, entry.maxOutputTokens]) {
    check(Number.isInteger(limit) && limit > 0 && limit <= int32Max, entry, `bad token limit ${limit}`);
  }
  for (const capability of entry.capabilities) {
    const known = (ModelCapability as Record<string, unknown>)[capability.replace(/^MODEL_CAPABILITY_/, "")];
    check(typeof known === "number" && known !== ModelCapability.UNSPECIFIED, entry, `unknown capability ${capability}`);
  }
  check(/^https:\/\//.test(entry.source) && /^\d{4}-\d{2}-\d{2}$/.test(entry.sourceDate), entry, "source or date missing");
  const cached = entry.cachedInputPriceUsdPerMillionTokens ?? null;
  return {
    catalogId: entry.catalogId,
    name: entry.displayName,
    spec: {
      family: entry.family,
      provider: entry.provider,
      inputPriceCents: usdToCents(entry.inputPriceUsdPerMillionTokens),
      outputPriceCents: usdToCents(entry.outputPriceUsdPerMillionTokens),
      cachedInputPriceCents: cached === null ? null : usdToCents(cached),
      inputPriceUsd: entry.inputPriceUsdPerMillionTokens,
      outputPriceUsd: entry.outputPriceUsdPerMillionTokens,
      cachedInputPriceUsd: cached,
      maxInputTokens: entry.maxInputTokens,
      maxOutputTokens: entry.maxOutputTokens,
      capabilities: entry.capabilities,
      description: null,
      modelUrl: null,
      ...noFacts,
    },
  };
}

/** The catalog file beside this module (tsc copies it into the build). */
const catalogFile = new URL("./platform-catalog.json", import.meta.url);

/** The platform catalog file, read now (so a refresh sees edits), checked entry by entry. */
export function loadPlatformCatalog(
  entries: readonly CatalogFileEntry[] = (JSON.parse(readFileSync(catalogFile, "utf8")) as { models: CatalogFileEntry[] }).models,
): CatalogEntryRecord[] {
  const seen = new Set<string>();
  return entries.map((entry) => {
    if (seen.has(entry.catalogId)) throw new Error(`platform catalog entry "${entry.catalogId}" appears twice`);
    seen.add(entry.catalogId);
    return toRecord(entry);
  });
}
