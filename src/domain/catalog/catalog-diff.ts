import { fromJson, toJson, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  ModalitiesSchema,
  ModelLifecycleSchema,
  ModelPricingSchema,
  ReasoningSupportSchema,
  TemperatureSupportSchema,
} from "../../../gen/modelservice/v1/pricing_pb.js";
import type { FieldChangeRecord, ModelSpecRecord } from "../../storage/model-store.js";

/**
 * What a refresh would change in a catalog model: the fields the catalog data
 * owns, as update-mask style paths ("spec.pricing.base.input_usd_per_mtok")
 * with JSON values. The seed prices (derived from pricing), the history
 * (appended, never replaced) and the source (bookkeeping) are not compared.
 */

interface CatalogView {
  name: string;
  spec: ModelSpecRecord;
}

function flatten(value: JsonValue, path: string, out: Map<string, string>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, `${path}.${key}`, out);
  } else {
    out.set(path, JSON.stringify(value));
  }
}

function addFact(out: Map<string, string>, path: string, schema: DescMessage, json: JsonObject | null): void {
  if (json === null) return;
  flatten(toJson(schema, fromJson(schema, json, { ignoreUnknownFields: true }), { useProtoFieldName: true }), path, out);
}

function fieldsOf(view: CatalogView): Map<string, string> {
  const s = view.spec;
  const out = new Map<string, string>([["metadata.name", JSON.stringify(view.name)]]);
  const scalars: Array<[string, string | number | null]> = [
    ["spec.family", s.family],
    ["spec.provider", s.provider],
    ["spec.max_input_tokens", s.maxInputTokens],
    ["spec.max_output_tokens", s.maxOutputTokens],
    ["spec.description", s.description],
  ];
  for (const [path, value] of scalars) if (value !== null) out.set(path, JSON.stringify(value));
  if (s.capabilities.length > 0) out.set("spec.capabilities", JSON.stringify([...s.capabilities].sort()));
  addFact(out, "spec.pricing", ModelPricingSchema, s.pricing);
  addFact(out, "spec.lifecycle", ModelLifecycleSchema, s.lifecycle);
  addFact(out, "spec.modalities", ModalitiesSchema, s.modalities);
  addFact(out, "spec.reasoning", ReasoningSupportSchema, s.reasoning);
  addFact(out, "spec.temperature", TemperatureSupportSchema, s.temperature);
  return out;
}

/** The catalog fields that differ, sorted by path. */
export function catalogChanges(before: CatalogView, after: CatalogView): FieldChangeRecord[] {
  const old = fieldsOf(before);
  const now = fieldsOf(after);
  return [...new Set([...old.keys(), ...now.keys()])]
    .sort()
    .filter((p) => old.get(p) !== now.get(p))
    .map((field) => ({ field, oldValue: old.get(field), newValue: now.get(field) }));
}

/** Whether any price changed (the base tier, tiers or both). */
export function pricingChanged(changes: readonly FieldChangeRecord[]): boolean {
  return changes.some((c) => c.field.startsWith("spec.pricing."));
}
