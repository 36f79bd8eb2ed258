import type { Sql } from "postgres";

/** The columns of a model the change log keeps: all but sealed credentials and bookkeeping (as of migration 1). */
const snapshotColumns1 = [
  "id", "workspace_id", "account_id", "name", "profile_id", "bundle_key", "external_id", "labels", "catalog_id",
  "system_model_id", "origin", "visible", "family", "provider", "input_price_cents", "output_price_cents",
  "cached_input_price_cents", "input_price_usd", "output_price_usd", "cached_input_price_usd", "max_input_tokens",
  "max_output_tokens", "capabilities", "description", "model_url", "has_token", "has_client_key",
  "credential_fingerprint", "credentials_updated_at", "status", "version", "created_at", "updated_at", "delete_time", "purge_time",
];

/** The columns migration 2 adds: the spec's structured facts as the proto JSON of their messages. */
const factColumns = ["pricing", "price_history", "lifecycle", "source", "modalities", "reasoning", "temperature", "price_override", "upstream_changed"];

/** The computed price columns (filters and orders) and the base-tier key of ModelPricing each reads, as on SQLite. */
const basePriceColumns = {
  price_input: "inputUsdPerMtok",
  price_output: "outputUsdPerMtok",
  price_cache_read: "cacheReadUsdPerMtok",
  price_cache_write_5m: "cacheWrite5mUsdPerMtok",
  price_cache_write_1h: "cacheWrite1hUsdPerMtok",
  price_reasoning_output: "reasoningOutputUsdPerMtok",
  price_audio_input: "audioInputUsdPerMtok",
  price_audio_output: "audioOutputUsdPerMtok",
  price_image_input: "imageInputUsdPerMtok",
  price_image_output: "imageOutputUsdPerMtok",
  price_web_search: "webSearchUsdPerK",
};

/** The computed columns filters and orders read (migration 2): a virtual catalog copy has its system model's. */
export const computedColumns = ["lifecycle_stage", ...Object.keys(basePriceColumns)];

/** json_build_object of a row's snapshot columns (json columns embedded as written). */
function snapshot(row: "OLD" | "NEW", columns: string[]): string {
  return `json_build_object(${columns.map((c) => `'${c}', ${row}.${c}`).join(", ")})`;
}

/**
 * The body of the trigger function that appends a write to the change log
 * with snapshots of `columns`, takes the lock that orders commits, and notifies.
 * `skipCopyInserts`: the insert of a catalog copy row records nothing (it is
 * the materialization of a virtual copy, which every reader already sees).
 */
function changeRecordBody(columns: string[], skipCopyInserts = false): string {
  return `  DECLARE
    old_json json := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE ${snapshot("OLD", columns)} END;
    new_json json := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE ${snapshot("NEW", columns)} END;
    model models := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  BEGIN
${skipCopyInserts ? `    IF TG_OP = 'INSERT' AND NEW.system_model_id IS NOT NULL THEN
      RETURN NULL;
    END IF;
` : ""}    IF TG_OP = 'UPDATE' AND OLD.version IS NOT DISTINCT FROM NEW.version AND OLD.delete_time IS NOT DISTINCT FROM NEW.delete_time
      AND OLD.visible IS NOT DISTINCT FROM NEW.visible AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
      RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('model_changes_order'));
    INSERT INTO model_changes (workspace_id, model_id, before, after, committed_at)
      VALUES (model.workspace_id, model.id, old_json, new_json, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    PERFORM pg_notify('model_changes', '');
    RETURN NULL;
  END $$;
`;
}

/**
 * Schema versions of the PostgreSQL store, applied in order; the
 * schema_migrations table records each one applied. Append new versions,
 * never edit a released one.
 *
 * Text columns compare and sort bytewise (COLLATE "C"), as SQLite's BINARY
 * does, whatever the database's locale: pages and filters answer the same on
 * both stores. Times are epoch milliseconds (bigint), as in the SQLite store.
 */
const migrations: readonly string[] = [
  `
  CREATE TABLE settings (
    name text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE workspaces (
    id text COLLATE "C" PRIMARY KEY,
    account_id text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL
  );

  CREATE TABLE models (
    id text COLLATE "C" PRIMARY KEY,
    workspace_id text COLLATE "C" REFERENCES workspaces(id),
    account_id text COLLATE "C",
    name text COLLATE "C" NOT NULL,
    profile_id text COLLATE "C" NOT NULL,
    bundle_key text COLLATE "C",
    external_id text COLLATE "C",
    -- json, not jsonb: labels keep the order they were written in, as on SQLite.
    labels json NOT NULL DEFAULT '{}',
    catalog_id text COLLATE "C",
    system_model_id text COLLATE "C" REFERENCES models(id),
    origin text COLLATE "C" NOT NULL CHECK (origin IN ('MODEL_ORIGIN_SYSTEM', 'MODEL_ORIGIN_WORKSPACE')),
    visible boolean NOT NULL DEFAULT true,
    family text COLLATE "C",
    provider text COLLATE "C",
    input_price_cents bigint,
    output_price_cents bigint,
    cached_input_price_cents bigint,
    input_price_usd text,
    output_price_usd text,
    cached_input_price_usd text,
    max_input_tokens bigint,
    max_output_tokens bigint,
    capabilities jsonb NOT NULL DEFAULT '[]',
    description text COLLATE "C",
    model_url text COLLATE "C",
    credentials_key_id text,
    credentials_blob bytea,
    has_token boolean NOT NULL DEFAULT false,
    has_client_key boolean NOT NULL DEFAULT false,
    credential_fingerprint text,
    credentials_updated_at bigint,
    status text COLLATE "C" CHECK (status IN ('MODEL_STATUS_ENABLED', 'MODEL_STATUS_DISABLED')),
    version bigint NOT NULL DEFAULT 1,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    delete_time bigint,
    purge_time bigint,
    -- Shipped system models: digest of the catalog file entry last applied.
    shipped_digest text,
    shipped_position integer,
    -- Full-text index of the searchable text, kept by models_search_text().
    search tsvector NOT NULL DEFAULT ''::tsvector,
    CHECK ((workspace_id IS NULL) = (status IS NULL))
  );

  CREATE INDEX models_by_workspace_created ON models (workspace_id, created_at, id);
  CREATE UNIQUE INDEX models_system_catalog_id ON models (catalog_id) WHERE workspace_id IS NULL;
  CREATE UNIQUE INDEX models_workspace_copy ON models (workspace_id, system_model_id) WHERE system_model_id IS NOT NULL;
  CREATE INDEX models_by_system_model ON models (system_model_id) WHERE system_model_id IS NOT NULL;
  CREATE UNIQUE INDEX models_external_id ON models (coalesce(workspace_id, ''), external_id)
    WHERE external_id IS NOT NULL AND delete_time IS NULL;
  CREATE INDEX models_search ON models USING gin (search);

  -- Words as SQLite's unicode61 tokenizer sees them: runs of letters and
  -- digits, lower case. Weights rank a match in the name (A) over family (B),
  -- provider and external id (C), description and labels (D).
  CREATE FUNCTION models_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    NEW.search :=
      setweight(to_tsvector('simple', regexp_replace(coalesce(NEW.name, ''), '[^[:alnum:]]+', ' ', 'g')), 'A') ||
      setweight(to_tsvector('simple', regexp_replace(coalesce(NEW.family, ''), '[^[:alnum:]]+', ' ', 'g')), 'B') ||
      setweight(to_tsvector('simple', regexp_replace(coalesce(NEW.provider, '') || ' ' || coalesce(NEW.external_id, ''), '[^[:alnum:]]+', ' ', 'g')), 'C') ||
      setweight(to_tsvector('simple', regexp_replace(coalesce(NEW.description, '') || ' ' ||
        coalesce((SELECT string_agg(key || ' ' || value, ' ') FROM json_each_text(NEW.labels)), ''), '[^[:alnum:]]+', ' ', 'g')), 'D');
    RETURN NEW;
  END $$;
  CREATE TRIGGER models_search_text BEFORE INSERT OR UPDATE OF name, family, provider, description, labels, external_id ON models
    FOR EACH ROW EXECUTE FUNCTION models_search_text();

  CREATE TABLE model_revisions (
    id text COLLATE "C" PRIMARY KEY,
    model_id text COLLATE "C" NOT NULL,
    action text NOT NULL,
    profile_id text NOT NULL,
    request_id text NOT NULL,
    changes jsonb NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX model_revisions_by_model ON model_revisions (model_id, id);

  CREATE TABLE request_ids (
    scope text COLLATE "C" NOT NULL,
    request_id text COLLATE "C" NOT NULL,
    request_hash text NOT NULL,
    model_id text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (scope, request_id)
  );

  CREATE TABLE model_drafts (
    id text COLLATE "C" PRIMARY KEY,
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces(id),
    profile_id text COLLATE "C" NOT NULL,
    base_model_id text,
    base_etag text,
    -- The draft Model as proto JSON; credentials are never kept in a draft.
    model text NOT NULL,
    version bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX model_drafts_by_author ON model_drafts (workspace_id, profile_id, updated_at);

  -- The change log: one row per change of a model, appended by the trigger
  -- below in the transaction of the write, whatever the write path. A
  -- transaction takes model_changes_order (an advisory lock held to its
  -- commit) before its first row, so seq grows in commit order across every
  -- replica: a reader that has seen seq n never later finds a smaller one.
  -- before/after are the model's columns without sealed credentials; NULL
  -- when the row did not or no longer exists. Updates that change nothing a
  -- reader sees (catalog bookkeeping, key rotation) leave no row. Each
  -- commit notifies channel model_changes.
  CREATE TABLE model_changes (
    seq bigserial PRIMARY KEY,
    workspace_id text COLLATE "C",
    model_id text COLLATE "C" NOT NULL,
    before json,
    after json,
    committed_at bigint NOT NULL
  );
  CREATE INDEX model_changes_by_time ON model_changes (committed_at);

  CREATE FUNCTION model_change_record() RETURNS trigger LANGUAGE plpgsql AS $$
${changeRecordBody(snapshotColumns1)}  CREATE TRIGGER model_changes AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION model_change_record();
  `,
  `
  -- The spec's structured facts, as the proto JSON of their messages (json: kept as written).
  ${factColumns.map((c) => `ALTER TABLE models ADD COLUMN ${c} json${c === "price_history" ? " NOT NULL DEFAULT '[]'" : ""};`).join("\n  ")}
  -- Existing prices become the base tier; an unknown one stays absent.
  UPDATE models SET pricing = json_build_object('base', json_strip_nulls(json_build_object(
    'inputUsdPerMtok', input_price_usd, 'outputUsdPerMtok', output_price_usd, 'cacheReadUsdPerMtok', cached_input_price_usd)))
  WHERE coalesce(input_price_usd, output_price_usd, cached_input_price_usd) IS NOT NULL;
  -- What ListModels filters and orders by inside the JSON: the lifecycle stage and each base-tier price.
  ALTER TABLE models ADD COLUMN lifecycle_stage text COLLATE "C" GENERATED ALWAYS AS (lifecycle->>'stage') STORED;
  ${Object.entries(basePriceColumns)
    .map(([column, key]) => `ALTER TABLE models ADD COLUMN ${column} double precision GENERATED ALWAYS AS ((pricing->'base'->>'${key}')::double precision) STORED;`)
    .join("\n  ")}
  CREATE OR REPLACE FUNCTION model_change_record() RETURNS trigger LANGUAGE plpgsql AS $$
${changeRecordBody([...snapshotColumns1, ...factColumns])}  `,
  `
  -- Workspace catalogs as overlays (storage/virtual-copy.ts): a workspace's
  -- copy of a system model is a row only once the workspace wrote to it. A
  -- copy's id is the workspace's half and the system model's half, each 13
  -- Crockford base32 characters of a SHA-256, exactly as
  -- storage/catalog-copy-id.ts derives them.
  CREATE FUNCTION catalog_copy_half(kind text, key text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
        (((get_byte(d, (5 * i) / 8) * 256 + get_byte(d, (5 * i) / 8 + 1)) >> (11 - (5 * i) % 8)) & 31) + 1, 1), '' ORDER BY i)
    FROM (SELECT sha256('modelservice catalog copy'::bytea || '\\x00'::bytea || convert_to(kind, 'UTF8') || '\\x00'::bytea || convert_to(key, 'UTF8')) AS d) AS h,
      generate_series(0, 12) AS i
  $$;
  ALTER TABLE workspaces ADD COLUMN copy_id_prefix text COLLATE "C" GENERATED ALWAYS AS ('model_' || catalog_copy_half('workspace', id)) STORED;
  ALTER TABLE models ADD COLUMN copy_id_suffix text COLLATE "C"
    GENERATED ALWAYS AS (CASE WHEN workspace_id IS NULL THEN catalog_copy_half('system', id) END) STORED;
  -- Two system models never give their copies the same ids.
  CREATE UNIQUE INDEX models_copy_id_suffix ON models (copy_id_suffix) WHERE workspace_id IS NULL;
  CREATE OR REPLACE FUNCTION model_change_record() RETURNS trigger LANGUAGE plpgsql AS $$
${changeRecordBody([...snapshotColumns1, ...factColumns], true)}  `,
];

/** Key of the advisory lock migrations run under (any constant shared by every release). */
const migrationLock = 0x6d6f_6465; // "mode"

/**
 * Applies the migrations the database has not seen yet, each in its own
 * transaction under one advisory lock and re-reading schema_migrations, so
 * replicas starting at once apply each migration exactly once.
 */
export async function migrate(sql: Sql): Promise<number> {
  for (;;) {
    const applied = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
      const [{ current }] = await tx<Array<{ current: number }>>`SELECT coalesce(max(version), 0)::int AS current FROM schema_migrations`;
      if (current > migrations.length) {
        throw new Error(`database schema version ${current} is newer than this release knows (${migrations.length}); refusing to start`);
      }
      if (current === migrations.length) return false;
      await tx.unsafe(migrations[current]!);
      await tx`INSERT INTO schema_migrations (version) VALUES (${current + 1})`;
      return true;
    });
    if (!applied) return migrations.length;
  }
}
