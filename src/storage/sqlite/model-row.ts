import type { JsonObject } from "@bufbuild/protobuf";
import type { ModelRecord, ModelSpecRecord, StoredModelOrigin, StoredModelStatus } from "../model-store.js";

/** A row of the models table, as better-sqlite3 reads and writes it. */
export interface ModelRow {
  id: string;
  workspace_id: string | null;
  account_id: string | null;
  name: string;
  profile_id: string;
  bundle_key: string | null;
  external_id: string | null;
  labels: string;
  catalog_id: string | null;
  system_model_id: string | null;
  origin: StoredModelOrigin;
  visible: number;
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
  capabilities: string;
  description: string | null;
  model_url: string | null;
  credentials_key_id: string | null;
  credentials_blob: Uint8Array | null;
  has_token: number;
  has_client_key: number;
  credential_fingerprint: string | null;
  credentials_updated_at: number | null;
  status: StoredModelStatus | null;
  version: number;
  created_at: number;
  updated_at: number;
  delete_time: number | null;
  purge_time: number | null;
  pricing: string | null;
  price_history: string;
  lifecycle: string | null;
  source: string | null;
  modalities: string | null;
  reasoning: string | null;
  temperature: string | null;
  price_override: string | null;
  upstream_changed: string | null;
}

/** Every column a model write sets: one list, so that a new column is one line here and one in each mapping below. */
export const modelColumns = [
  "id",
  "workspace_id",
  "account_id",
  "profile_id",
  "bundle_key",
  "external_id",
  "labels",
  "catalog_id",
  "system_model_id",
  "origin",
  "name",
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
  "has_token",
  "has_client_key",
  "credential_fingerprint",
  "credentials_updated_at",
  "visible",
  "credentials_key_id",
  "credentials_blob",
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

export const insertModelSql = `INSERT INTO models (${modelColumns.join(", ")}) VALUES (${modelColumns.map((c) => "@" + c).join(", ")})`;
export const updateModelSql = `UPDATE models SET ${modelColumns
  .filter((c) => c !== "id")
  .map((c) => `${c} = @${c}`)
  .join(", ")} WHERE id = @id AND version = @expected_version`;
function specFromRow(r: ModelRow): ModelSpecRecord {
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
    capabilities: JSON.parse(r.capabilities) as string[],
    description: r.description,
    modelUrl: r.model_url,
    pricing: jsonOrNull(r.pricing),
    // Change-log snapshots taken before migration 5 have none of these columns.
    priceHistory: r.price_history === undefined ? [] : (JSON.parse(r.price_history) as JsonObject[]),
    lifecycle: jsonOrNull(r.lifecycle),
    source: jsonOrNull(r.source),
    modalities: jsonOrNull(r.modalities),
    reasoning: jsonOrNull(r.reasoning),
    temperature: jsonOrNull(r.temperature),
    priceOverride: jsonOrNull(r.price_override),
    upstreamChanged: jsonOrNull(r.upstream_changed),
  };
}

function jsonOrNull(text: string | null | undefined): JsonObject | null {
  return text === null || text === undefined ? null : (JSON.parse(text) as JsonObject);
}

function textOrNull(value: JsonObject | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

export function modelToRow(m: ModelRecord): ModelRow {
  const s = m.spec;
  const c = m.credentials;
  return {
    id: m.id,
    workspace_id: m.workspaceId,
    account_id: m.accountId,
    name: m.name,
    profile_id: m.profileId,
    bundle_key: m.bundleKey,
    external_id: m.externalId,
    labels: JSON.stringify(m.labels),
    catalog_id: m.catalogId,
    system_model_id: m.systemModelId,
    origin: m.origin,
    visible: m.visible ? 1 : 0,
    family: s.family,
    provider: s.provider,
    input_price_cents: s.inputPriceCents,
    output_price_cents: s.outputPriceCents,
    cached_input_price_cents: s.cachedInputPriceCents,
    input_price_usd: s.inputPriceUsd,
    output_price_usd: s.outputPriceUsd,
    cached_input_price_usd: s.cachedInputPriceUsd,
    max_input_tokens: s.maxInputTokens,
    max_output_tokens: s.maxOutputTokens,
    capabilities: JSON.stringify(s.capabilities),
    description: s.description,
    model_url: s.modelUrl,
    credentials_key_id: c.keyId,
    credentials_blob: c.blob,
    has_token: c.hasToken ? 1 : 0,
    has_client_key: c.hasClientKey ? 1 : 0,
    credential_fingerprint: c.fingerprint,
    credentials_updated_at: c.updatedAt,
    status: m.status,
    version: m.version,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    delete_time: m.deleteTime,
    purge_time: m.purgeTime,
    pricing: textOrNull(s.pricing),
    price_history: JSON.stringify(s.priceHistory),
    lifecycle: textOrNull(s.lifecycle),
    source: textOrNull(s.source),
    modalities: textOrNull(s.modalities),
    reasoning: textOrNull(s.reasoning),
    temperature: textOrNull(s.temperature),
    price_override: textOrNull(s.priceOverride),
    upstream_changed: textOrNull(s.upstreamChanged),
  };
}

export function rowToModel(r: ModelRow): ModelRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    accountId: r.account_id,
    name: r.name,
    profileId: r.profile_id,
    bundleKey: r.bundle_key,
    externalId: r.external_id,
    labels: JSON.parse(r.labels) as Record<string, string>,
    catalogId: r.catalog_id,
    systemModelId: r.system_model_id,
    origin: r.origin,
    visible: r.visible === 1,
    spec: specFromRow(r),
    credentials: {
      keyId: r.credentials_key_id,
      blob: r.credentials_blob,
      hasToken: r.has_token === 1,
      hasClientKey: r.has_client_key === 1,
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

