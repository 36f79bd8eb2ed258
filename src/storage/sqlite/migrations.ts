import type { Database } from "better-sqlite3";

/**
 * Schema versions, applied in order; PRAGMA user_version records the last one
 * applied. Append new versions, never edit a released one.
 */
const migrations: readonly string[] = [
  `
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  -- System models (workspace_id NULL) and workspace models, one table: a
  -- workspace's copy of a system model is a workspace row with origin SYSTEM
  -- that names its system model.
  CREATE TABLE models (
    id TEXT PRIMARY KEY,
    workspace_id TEXT REFERENCES workspaces(id),
    account_id TEXT,
    name TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    bundle_key TEXT,
    external_id TEXT,
    labels TEXT NOT NULL DEFAULT '{}',
    catalog_id TEXT,
    system_model_id TEXT REFERENCES models(id),
    origin TEXT NOT NULL CHECK (origin IN ('MODEL_ORIGIN_SYSTEM', 'MODEL_ORIGIN_WORKSPACE')),
    visible INTEGER NOT NULL DEFAULT 1 CHECK (visible IN (0, 1)),
    family TEXT,
    provider TEXT,
    input_price_cents INTEGER,
    output_price_cents INTEGER,
    cached_input_price_cents INTEGER,
    input_price_usd TEXT,
    output_price_usd TEXT,
    cached_input_price_usd TEXT,
    max_input_tokens INTEGER,
    max_output_tokens INTEGER,
    capabilities TEXT NOT NULL DEFAULT '[]',
    description TEXT,
    model_url TEXT,
    credentials_key_id TEXT,
    credentials_blob BLOB,
    has_token INTEGER NOT NULL DEFAULT 0,
    has_client_key INTEGER NOT NULL DEFAULT 0,
    credential_fingerprint TEXT,
    credentials_updated_at INTEGER,
    status TEXT CHECK (status IN ('MODEL_STATUS_ENABLED', 'MODEL_STATUS_DISABLED')),
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delete_time INTEGER,
    purge_time INTEGER,
    -- Shipped system models: digest of the catalog file entry last applied.
    shipped_digest TEXT,
    shipped_position INTEGER,
    CHECK ((workspace_id IS NULL) = (status IS NULL))
  ) STRICT;

  CREATE INDEX models_by_workspace_created ON models (workspace_id, created_at, id);
  CREATE UNIQUE INDEX models_system_catalog_id ON models (catalog_id) WHERE workspace_id IS NULL;
  CREATE UNIQUE INDEX models_workspace_copy ON models (workspace_id, system_model_id) WHERE system_model_id IS NOT NULL;
  CREATE INDEX models_by_system_model ON models (system_model_id) WHERE system_model_id IS NOT NULL;
  CREATE UNIQUE INDEX models_external_id ON models (ifnull(workspace_id, ''), external_id)
    WHERE external_id IS NOT NULL AND delete_time IS NULL;

  CREATE TABLE model_revisions (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    action TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    changes TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX model_revisions_by_model ON model_revisions (model_id, id);

  CREATE TABLE request_ids (
    scope TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, request_id)
  ) STRICT;
  `,
  `
  CREATE TABLE model_drafts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    profile_id TEXT NOT NULL,
    base_model_id TEXT,
    base_etag TEXT,
    -- The draft Model as proto JSON; credentials are never kept in a draft.
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX model_drafts_by_author ON model_drafts (workspace_id, profile_id, updated_at);
  `,
  `
  -- Full-text index of the searchable text of every model, kept in step by
  -- triggers; contentless (the text lives in models), rowids are the models'.
  CREATE VIRTUAL TABLE models_fts USING fts5(
    name, family, provider, description, labels, external_id,
    content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TRIGGER models_fts_insert AFTER INSERT ON models BEGIN
    INSERT INTO models_fts (rowid, name, family, provider, description, labels, external_id)
    VALUES (new.rowid, new.name, new.family, new.provider, new.description,
      (SELECT group_concat(key || ' ' || value, ' ') FROM json_each(new.labels)), new.external_id);
  END;
  CREATE TRIGGER models_fts_update AFTER UPDATE OF name, family, provider, description, labels, external_id ON models BEGIN
    DELETE FROM models_fts WHERE rowid = old.rowid;
    INSERT INTO models_fts (rowid, name, family, provider, description, labels, external_id)
    VALUES (new.rowid, new.name, new.family, new.provider, new.description,
      (SELECT group_concat(key || ' ' || value, ' ') FROM json_each(new.labels)), new.external_id);
  END;
  CREATE TRIGGER models_fts_delete AFTER DELETE ON models BEGIN
    DELETE FROM models_fts WHERE rowid = old.rowid;
  END;
  INSERT INTO models_fts (rowid, name, family, provider, description, labels, external_id)
    SELECT rowid, name, family, provider, description,
      (SELECT group_concat(key || ' ' || value, ' ') FROM json_each(models.labels)), external_id
    FROM models;
  `,
  `
  -- The change log: one row per change of a model, appended by these triggers
  -- in the transaction of the write, whatever the write path. seq (never
  -- reused: AUTOINCREMENT) orders the changes in commit order, since SQLite
  -- commits one writer at a time. before/after are the model's columns
  -- without its sealed credentials; NULL when the row did not or no longer
  -- exists. Updates that change nothing a reader sees (catalog bookkeeping,
  -- key rotation) leave no row.
  CREATE TABLE model_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT,
    model_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    committed_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX model_changes_by_time ON model_changes (committed_at);
  CREATE TRIGGER model_changes_insert AFTER INSERT ON models BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (new.workspace_id, new.id, NULL, json_object('id', new.id, 'workspace_id', new.workspace_id, 'account_id', new.account_id, 'name', new.name, 'profile_id', new.profile_id, 'bundle_key', new.bundle_key, 'external_id', new.external_id, 'labels', new.labels, 'catalog_id', new.catalog_id, 'system_model_id', new.system_model_id, 'origin', new.origin, 'visible', new.visible, 'family', new.family, 'provider', new.provider, 'input_price_cents', new.input_price_cents, 'output_price_cents', new.output_price_cents, 'cached_input_price_cents', new.cached_input_price_cents, 'input_price_usd', new.input_price_usd, 'output_price_usd', new.output_price_usd, 'cached_input_price_usd', new.cached_input_price_usd, 'max_input_tokens', new.max_input_tokens, 'max_output_tokens', new.max_output_tokens, 'capabilities', new.capabilities, 'description', new.description, 'model_url', new.model_url, 'has_token', new.has_token, 'has_client_key', new.has_client_key, 'credential_fingerprint', new.credential_fingerprint, 'credentials_updated_at', new.credentials_updated_at, 'status', new.status, 'version', new.version, 'created_at', new.created_at, 'updated_at', new.updated_at, 'delete_time', new.delete_time, 'purge_time', new.purge_time), CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  CREATE TRIGGER model_changes_update AFTER UPDATE ON models
  WHEN old.version IS NOT new.version OR old.delete_time IS NOT new.delete_time OR old.visible IS NOT new.visible
    OR old.status IS NOT new.status BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (new.workspace_id, new.id, json_object('id', old.id, 'workspace_id', old.workspace_id, 'account_id', old.account_id, 'name', old.name, 'profile_id', old.profile_id, 'bundle_key', old.bundle_key, 'external_id', old.external_id, 'labels', old.labels, 'catalog_id', old.catalog_id, 'system_model_id', old.system_model_id, 'origin', old.origin, 'visible', old.visible, 'family', old.family, 'provider', old.provider, 'input_price_cents', old.input_price_cents, 'output_price_cents', old.output_price_cents, 'cached_input_price_cents', old.cached_input_price_cents, 'input_price_usd', old.input_price_usd, 'output_price_usd', old.output_price_usd, 'cached_input_price_usd', old.cached_input_price_usd, 'max_input_tokens', old.max_input_tokens, 'max_output_tokens', old.max_output_tokens, 'capabilities', old.capabilities, 'description', old.description, 'model_url', old.model_url, 'has_token', old.has_token, 'has_client_key', old.has_client_key, 'credential_fingerprint', old.credential_fingerprint, 'credentials_updated_at', old.credentials_updated_at, 'status', old.status, 'version', old.version, 'created_at', old.created_at, 'updated_at', old.updated_at, 'delete_time', old.delete_time, 'purge_time', old.purge_time), json_object('id', new.id, 'workspace_id', new.workspace_id, 'account_id', new.account_id, 'name', new.name, 'profile_id', new.profile_id, 'bundle_key', new.bundle_key, 'external_id', new.external_id, 'labels', new.labels, 'catalog_id', new.catalog_id, 'system_model_id', new.system_model_id, 'origin', new.origin, 'visible', new.visible, 'family', new.family, 'provider', new.provider, 'input_price_cents', new.input_price_cents, 'output_price_cents', new.output_price_cents, 'cached_input_price_cents', new.cached_input_price_cents, 'input_price_usd', new.input_price_usd, 'output_price_usd', new.output_price_usd, 'cached_input_price_usd', new.cached_input_price_usd, 'max_input_tokens', new.max_input_tokens, 'max_output_tokens', new.max_output_tokens, 'capabilities', new.capabilities, 'description', new.description, 'model_url', new.model_url, 'has_token', new.has_token, 'has_client_key', new.has_client_key, 'credential_fingerprint', new.credential_fingerprint, 'credentials_updated_at', new.credentials_updated_at, 'status', new.status, 'version', new.version, 'created_at', new.created_at, 'updated_at', new.updated_at, 'delete_time', new.delete_time, 'purge_time', new.purge_time), CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  CREATE TRIGGER model_changes_delete AFTER DELETE ON models BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (old.workspace_id, old.id, json_object('id', old.id, 'workspace_id', old.workspace_id, 'account_id', old.account_id, 'name', old.name, 'profile_id', old.profile_id, 'bundle_key', old.bundle_key, 'external_id', old.external_id, 'labels', old.labels, 'catalog_id', old.catalog_id, 'system_model_id', old.system_model_id, 'origin', old.origin, 'visible', old.visible, 'family', old.family, 'provider', old.provider, 'input_price_cents', old.input_price_cents, 'output_price_cents', old.output_price_cents, 'cached_input_price_cents', old.cached_input_price_cents, 'input_price_usd', old.input_price_usd, 'output_price_usd', old.output_price_usd, 'cached_input_price_usd', old.cached_input_price_usd, 'max_input_tokens', old.max_input_tokens, 'max_output_tokens', old.max_output_tokens, 'capabilities', old.capabilities, 'description', old.description, 'model_url', old.model_url, 'has_token', old.has_token, 'has_client_key', old.has_client_key, 'credential_fingerprint', old.credential_fingerprint, 'credentials_updated_at', old.credentials_updated_at, 'status', old.status, 'version', old.version, 'created_at', old.created_at, 'updated_at', old.updated_at, 'delete_time', old.delete_time, 'purge_time', old.purge_time), NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  `,
  pricingAndFactsMigration(),
  `
  -- What ListModels filters and orders by inside the stored proto JSON, as
  -- columns computed on read: the lifecycle stage and each base-tier price.
  ALTER TABLE models ADD COLUMN lifecycle_stage TEXT GENERATED ALWAYS AS (json_extract(lifecycle, '$.stage')) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_input REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.inputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_output REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.outputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_cache_read REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.cacheReadUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_cache_write_5m REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.cacheWrite5mUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_cache_write_1h REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.cacheWrite1hUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_reasoning_output REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.reasoningOutputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_audio_input REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.audioInputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_audio_output REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.audioOutputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_image_input REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.imageInputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_image_output REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.imageOutputUsdPerMtok') AS REAL)) VIRTUAL;
  ALTER TABLE models ADD COLUMN price_web_search REAL GENERATED ALWAYS AS (CAST(json_extract(pricing, '$.base.webSearchUsdPerK') AS REAL)) VIRTUAL;
  `,
];

/**
 * Migration 5: exact pricing with tiers and history, lifecycle, source,
 * modalities, reasoning, temperature (inherited by catalog copies), and a
 * workspace's price override and unacknowledged upstream change, each as the
 * proto JSON of its message. Existing prices become the base tier; the
 * change-log triggers are rebuilt to carry the new columns.
 */
function pricingAndFactsMigration(): string {
  const columns = [
    "id", "workspace_id", "account_id", "name", "profile_id", "bundle_key", "external_id", "labels", "catalog_id",
    "system_model_id", "origin", "visible", "family", "provider", "input_price_cents", "output_price_cents",
    "cached_input_price_cents", "input_price_usd", "output_price_usd", "cached_input_price_usd", "max_input_tokens",
    "max_output_tokens", "capabilities", "description", "model_url", "has_token", "has_client_key", "credential_fingerprint",
    "credentials_updated_at", "status", "version", "created_at", "updated_at", "delete_time", "purge_time",
    "pricing", "price_history", "lifecycle", "source", "modalities", "reasoning", "temperature", "price_override", "upstream_changed",
  ];
  const snapshot = (row: "old" | "new") => `json_object(${columns.map((c) => `'${c}', ${row}.${c}`).join(", ")})`;
  const now = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
  return `
  ALTER TABLE models ADD COLUMN pricing TEXT;
  ALTER TABLE models ADD COLUMN price_history TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE models ADD COLUMN lifecycle TEXT;
  ALTER TABLE models ADD COLUMN source TEXT;
  ALTER TABLE models ADD COLUMN modalities TEXT;
  ALTER TABLE models ADD COLUMN reasoning TEXT;
  ALTER TABLE models ADD COLUMN temperature TEXT;
  ALTER TABLE models ADD COLUMN price_override TEXT;
  ALTER TABLE models ADD COLUMN upstream_changed TEXT;
  -- json_patch drops the null members: an unknown price stays absent.
  UPDATE models SET pricing = json_object('base', json(json_patch('{}', json_object(
    'inputUsdPerMtok', input_price_usd, 'outputUsdPerMtok', output_price_usd, 'cacheReadUsdPerMtok', cached_input_price_usd))))
  WHERE coalesce(input_price_usd, output_price_usd, cached_input_price_usd) IS NOT NULL;
  DROP TRIGGER model_changes_insert;
  DROP TRIGGER model_changes_update;
  DROP TRIGGER model_changes_delete;
  CREATE TRIGGER model_changes_insert AFTER INSERT ON models BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (new.workspace_id, new.id, NULL, ${snapshot("new")}, ${now});
  END;
  CREATE TRIGGER model_changes_update AFTER UPDATE ON models
  WHEN old.version IS NOT new.version OR old.delete_time IS NOT new.delete_time OR old.visible IS NOT new.visible
    OR old.status IS NOT new.status BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (new.workspace_id, new.id, ${snapshot("old")}, ${snapshot("new")}, ${now});
  END;
  CREATE TRIGGER model_changes_delete AFTER DELETE ON models BEGIN
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
    VALUES (old.workspace_id, old.id, ${snapshot("old")}, NULL, ${now});
  END;
  `;
}

/**
 * Applies the migrations the database has not seen yet, each in its own
 * IMMEDIATE transaction that re-reads the version, so two processes starting
 * on one file never apply a migration twice.
 */
export function migrate(db: Database): number {
  const step = db.transaction((): boolean => {
    const current = db.pragma("user_version", { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(
        `database schema version ${current} is newer than this release knows (${migrations.length}); refusing to start`,
      );
    }
    if (current === migrations.length) return false;
    db.exec(migrations[current]!);
    db.pragma(`user_version = ${current + 1}`);
    return true;
  });
  while (step.immediate());
  return migrations.length;
}
