import type { Logger } from "pino";
import type { ModelRegistry } from "../models/model-registry.js";
import { systemProfileId } from "./catalog-sync.js";
import type { CatalogRefreshResult } from "./catalog-refresh.js";

/** A refresh's diff as one log record: counts, and the catalog ids and fields concerned. */
export function refreshLogFields(result: CatalogRefreshResult): Record<string, unknown> {
  return {
    dataVersion: result.dataVersion,
    added: result.added,
    changed: result.changed.map((c) => ({ catalogId: c.catalogId, fields: c.changes.map((f) => `${f.field}: ${f.oldValue ?? "unset"} -> ${f.newValue ?? "unset"}`) })),
    removed: result.removed,
    copiesCreated: result.copiesCreated,
  };
}

/**
 * Refreshes the catalog from the bundled data now (every start), then every
 * `minutes` when set (MODELSERVICE_CATALOG_REFRESH_MINUTES), logging each diff.
 * Returns the timer (undefined when not scheduled) to clear on shutdown.
 */
export async function catalogRefreshSchedule(registry: ModelRegistry, minutes: number, logger: Logger): Promise<NodeJS.Timeout | undefined> {
  let runs = 0;
  const refresh = async () => {
    const result = await registry.refreshCatalogData({
      dryRun: false,
      source: "",
      actor: { profileId: systemProfileId, requestId: `catalog-refresh-${Date.now()}-${++runs}` },
    });
    logger.info(refreshLogFields(result), "catalog refreshed");
  };
  await refresh();
  if (minutes === 0) return undefined;
  return setInterval(() => refresh().catch((e: unknown) => logger.error({ err: e }, "scheduled catalog refresh failed")), minutes * 60_000).unref();
}
