import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ModelPricingSchema } from "../../../gen/modelservice/v1/pricing_pb.js";
import type { FieldChangeRecord, ModelRecord, ModelStore } from "../../storage/model-store.js";
import { fieldChanges } from "../models/revision-diff.js";
import type { RefreshActor } from "./catalog-refresh.js";
import { rewriteCopies } from "./copy-rewrite.js";
import { withUpstreamChange } from "./override-fields.js";

/** A catalog model whose price a refresh changed. */
export interface UpstreamPriceChange {
  /** The system model, after the refresh. */
  system: ModelRecord;
  /** The price fields that changed ("spec.pricing.base.input_usd_per_mtok"), old and new as JSON text. */
  changes: FieldChangeRecord[];
  /** When the refresh ran (epoch ms). */
  detectedAt: number;
  /** Who the copies' revisions name. */
  actor: RefreshActor;
}

const pricingPrefix = "spec.pricing.";

/** The catalog pricing before the refresh: the new one with each changed field set back to its old value. */
function pricingBefore(after: JsonObject | null, changes: readonly FieldChangeRecord[]): JsonObject {
  const out = (after === null ? {} : toJson(ModelPricingSchema, fromJson(ModelPricingSchema, after), { useProtoFieldName: true })) as JsonObject;
  for (const change of changes) {
    if (!change.field.startsWith(pricingPrefix)) continue;
    const path = change.field.slice(pricingPrefix.length).split(".");
    let node = out;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
      node = node[key] as JsonObject;
    }
    const last = path[path.length - 1]!;
    if (change.oldValue === undefined) delete node[last];
    else node[last] = JSON.parse(change.oldValue) as JsonValue;
  }
  return out;
}

/**
 * Called by every refresh that changes a catalog model's price, after the new
 * price is stored: each workspace copy under a price override records the
 * change as spec.upstream_changed (with a revision and a change event) until
 * AcknowledgeUpstreamChange clears it. Copies without an override follow the
 * catalog silently.
 */
export async function recordUpstreamChange(store: ModelStore, change: UpstreamPriceChange, newRevisionId: () => string): Promise<void> {
  const before = pricingBefore(change.system.spec.pricing, change.changes);
  await rewriteCopies(
    store,
    await store.overriddenCopies(change.system.id),
    (copy) => {
      const spec = withUpstreamChange(copy.spec, before, change.system.spec.pricing, change.detectedAt);
      if (JSON.stringify(spec.upstreamChanged) === JSON.stringify(copy.spec.upstreamChanged)) return undefined;
      const model: ModelRecord = { ...copy, spec, version: copy.version + 1, updatedAt: change.detectedAt };
      return { model, changes: fieldChanges(copy, model) };
    },
    change.actor,
    change.detectedAt,
    newRevisionId,
  );
}
