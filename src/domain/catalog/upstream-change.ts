import type { FieldChangeRecord, ModelRecord } from "../../storage/model-store.js";

/** A catalog model whose price a refresh changed. */
export interface UpstreamPriceChange {
  /** The system model, after the refresh. */
  system: ModelRecord;
  /** The price fields that changed ("spec.pricing.base.input_usd_per_mtok"), old and new as JSON text. */
  changes: FieldChangeRecord[];
  /** When the refresh ran (epoch ms). */
  detectedAt: number;
}

/**
 * Called by every refresh that changes a catalog model's price, after the new
 * price is stored. Workspace price overrides record it here as their
 * upstream change (spec.upstream_changed) until acknowledged: that is the
 * workspace overrides' job (cost-estimate), which fills this in.
 */
export async function recordUpstreamChange(change: UpstreamPriceChange): Promise<void> {
  void change;
}
