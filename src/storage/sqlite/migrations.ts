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

  CREATE TABLE catalog_entries (
    catalog_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL
  ) STRICT;

  CREATE TABLE models (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    bundle_key TEXT,
    external_id TEXT,
    labels TEXT NOT NULL DEFAULT '{}',
    catalog_id TEXT,
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
    status TEXT NOT NULL CHECK (status IN ('MODEL_STATUS_ENABLED', 'MODEL_STATUS_DISABLED')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  CREATE INDEX models_by_workspace_created ON models (workspace_id, created_at, id);
  CREATE UNIQUE INDEX models_catalog_copy ON models (workspace_id, catalog_id) WHERE catalog_id IS NOT NULL;
  CREATE INDEX models_by_catalog ON models (catalog_id) WHERE catalog_id IS NOT NULL;
  `,
];

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
