import { defaultCatalogProviders } from "../../src/config.js";
import { catalogEntries } from "../../src/domain/catalog/catalog-entries.js";
import { bundledPriceData } from "../../src/domain/catalog/price-data.js";
import type { CatalogEntryRecord } from "../../src/storage/model-store.js";

/** The catalog a service with default settings builds at start, in its order. */
export function bundledCatalog(): CatalogEntryRecord[] {
  return catalogEntries(bundledPriceData(defaultCatalogProviders), Date.now());
}
