import type { JsonObject } from "@bufbuild/protobuf";
import type { ModelSpecRecord } from "../../storage/model-store.js";

/**
 * The price history after a refresh: every entry kept before, the data's own
 * dated prices not yet in it, and, when the price in effect changes with this
 * refresh, the new price from now. Old prices are never overwritten: an entry
 * runs from its effectiveFrom (absent: since the start) until the next one.
 */
export function nextPriceHistory(before: ModelSpecRecord, after: ModelSpecRecord, now: number): JsonObject[] {
  const keyOf = (e: JsonObject) => (typeof e.effectiveFrom === "string" ? e.effectiveFrom : "");
  const byStart = new Map<string, JsonObject>();
  for (const e of before.priceHistory) byStart.set(keyOf(e), e);
  for (const e of after.priceHistory) if (!byStart.has(keyOf(e))) byStart.set(keyOf(e), e);
  const ordered = () => [...byStart.entries()].sort(([a], [b]) => Date.parse(a || "0001-01-01T00:00:00Z") - Date.parse(b || "0001-01-01T00:00:00Z"));
  const inEffect = ordered()
    .filter(([start]) => start === "" || Date.parse(start) <= now)
    .pop()?.[1];
  const was = inEffect?.pricing ?? before.pricing;
  if (after.pricing !== null && JSON.stringify(was) !== JSON.stringify(after.pricing)) {
    if (byStart.size === 0 && before.pricing !== null) byStart.set("", { pricing: before.pricing });
    byStart.set(new Date(now).toISOString(), { effectiveFrom: new Date(now).toISOString(), pricing: after.pricing });
  }
  return ordered().map(([, e]) => e);
}
