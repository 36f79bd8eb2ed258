import type { JsonObject } from "@bufbuild/protobuf";
import type { ParameterOrJSON } from "postgres";
import type { ModelRecord, ModelSpecRecord, StoredModelOrigin, StoredModelStatus } from "../model-store.js";

/** A models row as the driver returns it (bigint parsed to number, jsonb parsed), or as to_jsonb() writes it in the change log. */
export interface PgModelRow {
  id: string;
  workspace_id: string | null;
  account_id: string | null;
  name: string;
  profile_id: string;
  bundle_key: string | null;
  external_id: string | null;
  labels: Record<string, string>;
  catalog_id: string | null;
  system_model_id: string | null;
  origin: StoredModelOrigin;
  visible: boolean;
  family: string | null;
  provider: string | null;
  input_price_cents: number | null;
  output_price_cents: number | null;
  cached_input_price_cents: number | null;
  input_price_usd: string | null;
  output_price_usd: string | null;
  cached_input_price_usd: string | null;
  max_input_tokens: number | null;
  max_output_tokens: number | null;
  capabilities: string[];
  description: string | null;
  model_url: string | null;
  credentials_key_id?: string | null;
  credentials_blob?: Uint8Array | null;
  has_token: boolean;
  has_client_key: boolean;
  credential_fingerprint: string | null;
  credentials_updated_at: number | null;
  status: StoredModelStatus | null;
  version: number;
  created_at: number;
  updated_at: number;
  delete_time: number | null;
  purge_time: number | null;
  // Proto JSON of the spec's structured facts (migration 2); absent from change-log snapshots written before it.
  pricing?: JsonObject | null;
  price_history?: JsonObject[];
  lifecycle?: JsonObject | null;
  source?: JsonObject | null;
  modalities?: JsonObject | null;
  reasoning?: JsonObject | null;
  temperature?: JsonObject | null;
  price_override?: JsonObject | null;
  upstream_changed?: JsonObject | null;
}

/** The columns a model write sets, in the order of `modelValues`. */
export const modelColumns = [
  "id",
  "workspace_id",
  "account_id",
  "name",
  "profile_id",
  "bundle_key",
  "external_id",
  "labels",
  "catalog_id",
  "system_model_id",
  "origin",
  "visible",
  "family",
  "provider",
  "input_price_cents",
  "output_price_cents",
  "cached_input_price_cents",
  "input_price_usd",
  "output_price_usd",
  "cached_input_price_usd",
  "max_input_tokens",
  "max_output_tokens",
  "capabilities",
  "description",
  "model_url",
  "credentials_key_id",
  "credentials_blob",
  "has_token",
  "has_client_key",
  "credential_fingerprint",
  "credentials_updated_at",
  "status",
  "version",
  "created_at",
  "updated_at",
  "delete_time",
  "purge_time",
  "pricing",
  "price_history",
  "lifecycle",
  "source",
  "modalities",
  "reasoning",
  "temperature",
  "price_override",
  "upstream_changed",
] as const;

/** A query parameter: JSON values are serialized by the driver for json and jsonb columns. */
export type PgParam = ParameterOrJSON<never>;

/** The values of `modelColumns` for a model; the driver serializes jsonb columns' values (the types the server describes). */
export function modelValues(m: ModelRecord): PgParam[] {
  const s = m.spec;
  const c = m.credentials;
  return [
    m.id,
    m.workspaceId,
    m.accountId,
    m.name,
    m.profileId,
    m.bundleKey,
    m.externalId,
    m.labels,
    m.catalogId,
    m.systemModelId,
    m.origin,
    m.visible,
    s.family,
    s.provider,
    s.inputPriceCents,
    s.outputPriceCents,
    s.cachedInputPriceCents,
    s.inputPriceUsd,
    s.outputPriceUsd,
    s.cachedInputPriceUsd,
    s.maxInputTokens,
    s.maxOutputTokens,
    s.capabilities,
    s.description,
    s.modelUrl,
    c.keyId,
    c.blob,
    c.hasToken,
    c.hasClientKey,
    c.fingerprint,
    c.updatedAt,
    m.status,
    m.version,
    m.createdAt,
    m.updatedAt,
    m.deleteTime,
    m.purgeTime,
    s.pricing,
    s.priceHistory,
    s.lifecycle,
    s.source,
    s.modalities,
    s.reasoning,
    s.temperature,
    s.priceOverride,
    s.upstreamChanged,
  ];
}

function specFromRow(r: PgModelRow): ModelSpecRecord {
  return {
    family: r.family,
    provider: r.provider,
    inputPriceCents: r.input_price_cents,
    outputPriceCents: r.output_price_cents,
    cachedInputPriceCents: r.cached_input_price_cents,
    inputPriceUsd: r.input_price_usd,
    outputPriceUsd: r.output_price_usd,
    cachedInputPriceUsd: r.cached_input_price_usd,
    maxInputTokens: r.max_input_tokens,
    maxOutputTokens: r.max_output_tokens,
    capabilities: r.capabilities,
    description: r.description,
    modelUrl: r.model_url,
    pricing: r.pricing ?? null,
    priceHistory: r.price_history ?? [],
    lifecycle: r.lifecycle ?? null,
    source: r.source ?? null,
    modalities: r.modalities ?? null,
    reasoning: r.reasoning ?? null,
    temperature: r.temperature ?? null,
    priceOverride: r.price_override ?? null,
    upstreamChanged: r.upstream_changed ?? null,
  };
}

export function rowToModel(r: PgModelRow): ModelRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    accountId: r.account_id,
    name: r.name,
    profileId: r.profile_id,
    bundleKey: r.bundle_key,
    externalId: r.external_id,
    labels: r.labels,
    catalogId: r.catalog_id,
    systemModelId: r.system_model_id,
    origin: r.origin,
    visible: r.visible,
    spec: specFromRow(r),
    credentials: {
      keyId: r.credentials_key_id ?? null,
      blob: r.credentials_blob ? new Uint8Array(r.credentials_blob) : null,
      hasToken: r.has_token,
      hasClientKey: r.has_client_key,
      fingerprint: r.credential_fingerprint,
      updatedAt: r.credentials_updated_at,
    },
    status: r.status,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deleteTime: r.delete_time,
    purgeTime: r.purge_time,
  };
}

/** `INSERT INTO models (...) VALUES ($1, …)` for `modelValues`. */
export const insertModelSql = `INSERT INTO models (${modelColumns.join(", ")}) VALUES (${modelColumns.map((_c, i) => `$${i + 1}`).join(", ")})`;

/** The compare-and-set update for `modelValues` plus the expected version as the last parameter. */
export const updateModelSql = `UPDATE models SET ${modelColumns
  .map((c, i) => [c, i] as const)
  .filter(([c]) => c !== "id")
  .map(([c, i]) => `${c} = $${i + 1}`)
  .join(", ")} WHERE id = $1 AND version = $${modelColumns.length + 1}`;
