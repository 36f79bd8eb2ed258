import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import { FieldBehavior } from "../../../gen/google/api/field_behavior_pb.js";
import { ModelSchema, ModelStatus, ResourceMetadataSchema, ModelSpecSchema, type Model, type ModelSpec } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ModalitiesSchema,
  ModelLifecycleSchema,
  ModelPricingSchema,
  PriceOverrideSchema,
  ReasoningSupportSchema,
  TemperatureSupportSchema,
} from "../../../gen/modelservice/v1/pricing_pb.js";
import type { ModelRecord, ModelSpecRecord } from "../../storage/model-store.js";
import { usdToCents } from "../catalog/decimal-price.js";
import { behaviors } from "../validation/field-behavior.js";
import type { FieldViolation } from "../validation/field-violations.js";
import { capabilityName, storedStatus } from "./model-message.js";
import { factToJson, noFacts, withPricingFromSeedPrices, withSeedPricesFromPricing } from "./spec-facts.js";

function pathsOf(prefix: string, schema: DescMessage, keep: (f: DescField) => boolean): string[] {
  return schema.fields.filter(keep).map((f) => `${prefix}.${f.name}`);
}

const isOutputOnly = (f: DescField) => behaviors(f).includes(FieldBehavior.OUTPUT_ONLY);
const isImmutable = (f: DescField) => behaviors(f).includes(FieldBehavior.IMMUTABLE);

/**
 * What an update mask may name, read from the descriptors: every field of
 * metadata and spec that is neither OUTPUT_ONLY nor IMMUTABLE; metadata.etag
 * is the concurrency check, not a value to write.
 */
export const updatablePaths: ReadonlySet<string> = new Set(
  [
    ...pathsOf("metadata", ResourceMetadataSchema, (f) => !isOutputOnly(f) && !isImmutable(f)),
    ...pathsOf("spec", ModelSpecSchema, (f) => !isOutputOnly(f) && !isImmutable(f)),
  ].filter((p) => p !== "metadata.etag"),
);
const refusedPaths: ReadonlySet<string> = new Set([
  ...pathsOf("metadata", ResourceMetadataSchema, (f) => isOutputOnly(f) || isImmutable(f)),
  ...pathsOf("spec", ModelSpecSchema, (f) => isOutputOnly(f) || isImmutable(f)),
  "metadata.etag",
]);

export const credentialsPath = "spec.credentials";
export const priceOverridePath = "spec.price_override";
/** Paths a workspace changes on a system model's copy; platform admins change the rest. */
export const copyEditablePaths: ReadonlySet<string> = new Set(["metadata.labels", "spec.status", priceOverridePath]);

/**
 * The paths an update writes: the mask's ("*" = every updatable field but the
 * credentials), or without a mask the fields the body sets. Credentials are
 * written only when the mask names them.
 */
export function resolveMask(mask: FieldMask | undefined, body: Model, bodyPath: string): string[] | FieldViolation[] {
  if (!mask || mask.paths.length === 0) {
    const set = setPaths(body).filter((p) => updatablePaths.has(p));
    if (set.includes(credentialsPath)) {
      return [{ field: `${bodyPath}.spec.credentials`, description: 'is changed only when the update mask names "spec.credentials"' }];
    }
    return set;
  }
  const violations: FieldViolation[] = [];
  const paths = new Set<string>();
  for (const path of mask.paths) {
    if (path === "*") {
      for (const p of updatablePaths) if (p !== credentialsPath) paths.add(p);
    } else if (path === "metadata" || path === "spec") {
      for (const p of updatablePaths) if (p.startsWith(path + ".") && p !== credentialsPath) paths.add(p);
    } else if (updatablePaths.has(path)) {
      paths.add(path);
    } else if (refusedPaths.has(path)) {
      violations.push({ field: "updateMask", description: `"${path}" cannot be updated (output only or immutable)` });
    } else {
      violations.push({ field: "updateMask", description: `"${path.slice(0, 100)}" is not a field of Model` });
    }
  }
  const bodySetsCredentials = body.spec?.credentials !== undefined;
  if (bodySetsCredentials && !paths.has(credentialsPath)) {
    violations.push({ field: `${bodyPath}.spec.credentials`, description: 'is changed only when the update mask names "spec.credentials"' });
  }
  return violations.length > 0 ? violations : [...paths];
}

/** "metadata.name"-style proto paths of the fields a Model message sets. */
function setPaths(model: Model): string[] {
  const out: string[] = [];
  const r = reflect(ModelSchema, model);
  for (const part of r.fields) {
    if (part.fieldKind !== "message" || !r.isSet(part)) continue;
    const inner = r.get(part);
    for (const f of inner.fields) if (inner.isSet(f)) out.push(`${part.name}.${f.name}`);
  }
  return out;
}

function centsAndUsd(cents: bigint | undefined, usd: string | undefined): [number | null, string | null] {
  if (usd !== undefined) return [usdToCents(usd), usd];
  if (cents !== undefined) return [Number(cents), centsToUsd(Number(cents))];
  return [null, null];
}

function centsToUsd(cents: number): string {
  const whole = Math.floor(cents / 100);
  const fraction = String(cents % 100).padStart(2, "0").replace(/0+$/, "");
  return fraction === "" ? String(whole) : `${whole}.${fraction}`;
}

const emptySpec: ModelSpecRecord = {
  family: null,
  provider: null,
  inputPriceCents: null,
  outputPriceCents: null,
  cachedInputPriceCents: null,
  inputPriceUsd: null,
  outputPriceUsd: null,
  cachedInputPriceUsd: null,
  maxInputTokens: null,
  maxOutputTokens: null,
  capabilities: [],
  description: null,
  modelUrl: null,
  ...noFacts,
};

/** The spec of a request, over `base` for the paths given (all spec paths on create). */
export function applySpec(base: ModelSpecRecord, spec: ModelSpec | undefined, paths: ReadonlySet<string>): ModelSpecRecord {
  const s = spec ?? ({} as Partial<ModelSpec>);
  const out: ModelSpecRecord = { ...base };
  const has = (name: string) => paths.has(`spec.${name}`);
  if (has("family")) out.family = s.family ?? null;
  if (has("provider")) out.provider = s.provider ?? null;
  if (has("max_input_tokens")) out.maxInputTokens = s.maxInputTokens ?? null;
  if (has("max_output_tokens")) out.maxOutputTokens = s.maxOutputTokens ?? null;
  if (has("capabilities")) out.capabilities = [...new Set(s.capabilities ?? [])].map(capabilityName);
  if (has("description")) out.description = s.description ?? null;
  if (has("model_url")) out.modelUrl = s.modelUrl ?? null;
  // A price is given in cents or as exact dollars; the exact figure wins and the other follows.
  const prices = [
    ["input_price_per_million_tokens", "inputPriceCents", "inputPriceUsd", s.inputPricePerMillionTokens, s.inputPricePerMillionTokensUsd],
    ["output_price_per_million_tokens", "outputPriceCents", "outputPriceUsd", s.outputPricePerMillionTokens, s.outputPricePerMillionTokensUsd],
    [
      "cached_input_price_per_million_tokens",
      "cachedInputPriceCents",
      "cachedInputPriceUsd",
      s.cachedInputPricePerMillionTokens,
      s.cachedInputPricePerMillionTokensUsd,
    ],
  ] as const;
  let seedGiven = false;
  for (const [path, centsKey, usdKey, cents, usd] of prices) {
    if (!has(path) && !has(path + "_usd")) continue;
    const [c, u] = centsAndUsd(has(path) ? cents : undefined, has(path + "_usd") ? usd : undefined);
    out[centsKey] = c;
    out[usdKey] = u;
    if (c !== null) seedGiven = true;
  }
  if (has("lifecycle")) out.lifecycle = factToJson(ModelLifecycleSchema, s.lifecycle);
  if (has("modalities")) out.modalities = factToJson(ModalitiesSchema, s.modalities);
  if (has("reasoning")) out.reasoning = factToJson(ReasoningSupportSchema, s.reasoning);
  if (has("temperature")) out.temperature = factToJson(TemperatureSupportSchema, s.temperature);
  if (has("price_override")) out.priceOverride = factToJson(PriceOverrideSchema, s.priceOverride);
  // The seed prices follow the pricing's base tier; a write giving only seed
  // prices (an older client) writes them into the base tier instead.
  if (has("pricing") && (s.pricing !== undefined || !seedGiven)) {
    out.pricing = factToJson(ModelPricingSchema, s.pricing);
    // A seed price given beside the pricing (a form that edits it on a whole model) wins for its component.
    const seeded = seedGiven ? withPricingFromSeedPrices(out, (path) => has(path) && setIn(s, path)) : out;
    return withSeedPricesFromPricing(seeded);
  }
  if (has("pricing")) out.pricing = null;
  return prices.some(([path]) => has(path) || has(path + "_usd")) ? withPricingFromSeedPrices(out) : out;
}

/** Whether the request's spec sets the field at an update path ("input_price_per_million_tokens_usd"). */
function setIn(s: Partial<ModelSpec>, path: string): boolean {
  const key = path.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) as keyof ModelSpec;
  return s[key] !== undefined;
}

export function specOf(spec: ModelSpec | undefined): ModelSpecRecord {
  return applySpec(emptySpec, spec, updatablePaths);
}

/** The metadata and spec of `record` with the request's values at `paths` (credentials and status excluded). */
export function applyUpdate(record: ModelRecord, body: Model, paths: readonly string[]): ModelRecord {
  const set = new Set(paths);
  const m = body.metadata;
  const out: ModelRecord = { ...record, spec: applySpec(record.spec, body.spec, set) };
  if (set.has("metadata.name")) out.name = m?.name ?? "";
  if (set.has("metadata.labels")) out.labels = { ...(m?.labels ?? {}) };
  if (set.has("metadata.external_id")) out.externalId = m?.externalId ?? null;
  if (set.has("metadata.bundle_key")) out.bundleKey = m?.bundleKey ?? null;
  if (set.has("spec.visible") && record.workspaceId === null) out.visible = body.spec?.visible ?? true;
  if (set.has("spec.status") && record.status !== null) {
    const status = body.spec?.status;
    if (status === ModelStatus.ENABLED || status === ModelStatus.DISABLED) out.status = storedStatus(status);
  }
  return out;
}
