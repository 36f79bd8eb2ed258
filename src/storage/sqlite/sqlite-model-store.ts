import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type {
  CatalogEntryRecord,
  CatalogSyncResult,
  CopyContext,
  ModelListQuery,
  ModelListResult,
  ModelRecord,
  ModelSpecRecord,
  ModelStore,
  StoredModelStatus,
  WorkspaceRecord,
} from "../model-store.js";
import { migrate } from "./migrations.js";

interface ModelRow {
  id: string;
  workspace_id: string;
  account_id: string;
  name: string;
  profile_id: string;
  bundle_key: string | null;
  external_id: string | null;
  labels: string;
  catalog_id: string | null;
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
  status: StoredModelStatus;
  created_at: number;
  updated_at: number;
}

const specColumns = [
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
] as const;

const modelColumns = [
  "id",
  "workspace_id",
  "account_id",
  "name",
  "profile_id",
  "bundle_key",
  "external_id",
  "labels",
  "catalog_id",
  ...specColumns,
  "status",
  "created_at",
  "updated_at",
] as const;

const insertModelSql = `INSERT INTO models (${modelColumns.join(", ")}) VALUES (${modelColumns
  .map((c) => "@" + c)
  .join(", ")})`;

function specToRow(spec: ModelSpecRecord) {
  return {
    family: spec.family,
    provider: spec.provider,
    input_price_cents: spec.inputPriceCents,
    output_price_cents: spec.outputPriceCents,
    cached_input_price_cents: spec.cachedInputPriceCents,
    input_price_usd: spec.inputPriceUsd,
    output_price_usd: spec.outputPriceUsd,
    cached_input_price_usd: spec.cachedInputPriceUsd,
    max_input_tokens: spec.maxInputTokens,
    max_output_tokens: spec.maxOutputTokens,
    capabilities: JSON.stringify(spec.capabilities),
  };
}

function modelToRow(m: ModelRecord): ModelRow {
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
    ...specToRow(m.spec),
    status: m.status,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
  };
}

function rowToModel(r: ModelRow): ModelRecord {
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
    spec: {
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
    },
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Escapes LIKE wildcards so user text matches literally (with ESCAPE '\'). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  path: string;
  busyTimeoutMs?: number;
}

/**
 * ModelStore on better-sqlite3: WAL journal, busy timeout, versioned
 * migrations at open, and every statement prepared once and reused.
 */
export class SqliteModelStore implements ModelStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma("journal_mode = WAL");
    // In WAL mode NORMAL loses no committed transaction when the process dies
    // (kill -9); only an operating-system crash or power loss can cost the
    // last commits.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    migrate(this.db);
  }

  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  async syncCatalog(entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult> {
    return this.db
      .transaction((): CatalogSyncResult => {
        const result: CatalogSyncResult = { added: 0, changed: 0, copiesCreated: 0 };
        const existing = new Map(
          (
            this.statement("SELECT catalog_id, name, spec FROM catalog_entries").all() as Array<{
              catalog_id: string;
              name: string;
              spec: string;
            }>
          ).map((r) => [r.catalog_id, r]),
        );
        const workspaces = this.statement("SELECT id, account_id FROM workspaces ORDER BY created_at, id").all() as Array<{
          id: string;
          account_id: string;
        }>;
        entries.forEach((entry, position) => {
          const spec = JSON.stringify(entry.spec);
          const before = existing.get(entry.catalogId);
          this.statement(
            `INSERT INTO catalog_entries (catalog_id, position, name, spec) VALUES (?, ?, ?, ?)
             ON CONFLICT (catalog_id) DO UPDATE SET position = excluded.position, name = excluded.name, spec = excluded.spec`,
          ).run(entry.catalogId, position, entry.name, spec);
          if (!before) {
            result.added++;
            for (const ws of workspaces) {
              this.insertCopy(entry, { id: ws.id, accountId: ws.account_id }, copy);
              result.copiesCreated++;
            }
          } else if (before.spec !== spec) {
            result.changed++;
            const specRow = specToRow(entry.spec);
            this.statement(
              `UPDATE models SET ${specColumns.map((c) => `${c} = @${c}`).join(", ")}, updated_at = @now
               WHERE catalog_id = @catalog_id`,
            ).run({ ...specRow, now: copy.now, catalog_id: entry.catalogId });
          }
        });
        return result;
      })
      .immediate();
  }

  private insertCopy(entry: CatalogEntryRecord, ws: WorkspaceRecord, copy: CopyContext): void {
    this.statement(insertModelSql).run(
      modelToRow({
        id: copy.newId(),
        workspaceId: ws.id,
        accountId: ws.accountId,
        name: entry.name,
        profileId: copy.profileId,
        bundleKey: null,
        externalId: null,
        labels: {},
        catalogId: entry.catalogId,
        spec: entry.spec,
        status: "MODEL_STATUS_ENABLED",
        createdAt: copy.now,
        updatedAt: copy.now,
      }),
    );
  }

  async ensureWorkspace(workspace: WorkspaceRecord, copy: CopyContext): Promise<WorkspaceRecord> {
    const found = this.findWorkspace(workspace.id);
    if (found) return found;
    return this.db
      .transaction((): WorkspaceRecord => {
        const raced = this.findWorkspace(workspace.id);
        if (raced) return raced;
        this.statement("INSERT INTO workspaces (id, account_id, created_at) VALUES (?, ?, ?)").run(
          workspace.id,
          workspace.accountId,
          copy.now,
        );
        const entries = this.statement("SELECT catalog_id, name, spec FROM catalog_entries ORDER BY position").all() as Array<{
          catalog_id: string;
          name: string;
          spec: string;
        }>;
        for (const e of entries) {
          this.insertCopy(
            { catalogId: e.catalog_id, name: e.name, spec: JSON.parse(e.spec) as ModelSpecRecord },
            workspace,
            copy,
          );
        }
        return workspace;
      })
      .immediate();
  }

  private findWorkspace(id: string): WorkspaceRecord | undefined {
    const row = this.statement("SELECT id, account_id FROM workspaces WHERE id = ?").get(id) as
      | { id: string; account_id: string }
      | undefined;
    return row && { id: row.id, accountId: row.account_id };
  }

  async listModels(q: ModelListQuery): Promise<ModelListResult> {
    const where: string[] = ["workspace_id = @workspaceId"];
    const params: Record<string, string | number> = { workspaceId: q.workspaceId };
    if (q.status) {
      where.push("status = @status");
      params.status = q.status;
    }
    if (q.bundleKey) {
      where.push("bundle_key = @bundleKey");
      params.bundleKey = q.bundleKey;
    }
    if (q.prefix) {
      where.push(
        "(name LIKE @prefix ESCAPE '\\' OR external_id LIKE @prefix ESCAPE '\\' OR id LIKE @prefix ESCAPE '\\')",
      );
      params.prefix = likeLiteral(q.prefix) + "%";
    }
    q.queryTerms.forEach((term, i) => {
      where.push(
        `((name || ' ' || ifnull(family, '') || ' ' || ifnull(provider, '') || ' ' || id || ' ' || ifnull(external_id, '')) LIKE @term${i} ESCAPE '\\'
          OR EXISTS (SELECT 1 FROM json_each(models.labels) WHERE key LIKE @term${i} ESCAPE '\\' OR value LIKE @term${i} ESCAPE '\\'))`,
      );
      params[`term${i}`] = "%" + likeLiteral(term) + "%";
    });
    q.labels.forEach(([key, value], i) => {
      where.push(`EXISTS (SELECT 1 FROM json_each(models.labels) WHERE key = @labelKey${i} AND value = @labelValue${i})`);
      params[`labelKey${i}`] = key;
      params[`labelValue${i}`] = value;
    });
    const filter = where.join(" AND ");
    const total = (this.statement(`SELECT count(*) AS n FROM models WHERE ${filter}`).get(params) as { n: number }).n;

    const order = q.descending ? "DESC" : "ASC";
    let page = filter;
    if (q.after) {
      page += q.descending
        ? " AND (created_at, id) < (@afterCreatedAt, @afterId)"
        : " AND (created_at, id) > (@afterCreatedAt, @afterId)";
      params.afterCreatedAt = q.after.createdAt;
      params.afterId = q.after.id;
    }
    params.limit = q.limit;
    const rows = this.statement(
      `SELECT * FROM models WHERE ${page} ORDER BY created_at ${order}, id ${order} LIMIT @limit`,
    ).all(params) as ModelRow[];
    return { models: rows.map(rowToModel), total };
  }

  async getModel(workspaceId: string, id: string): Promise<ModelRecord | undefined> {
    const row = this.statement("SELECT * FROM models WHERE workspace_id = ? AND id = ?").get(workspaceId, id) as
      | ModelRow
      | undefined;
    return row && rowToModel(row);
  }

  async setModelStatus(
    workspaceId: string,
    id: string,
    status: StoredModelStatus,
    now: number,
  ): Promise<ModelRecord | undefined> {
    const row = this.statement(
      "UPDATE models SET status = ?, updated_at = ? WHERE workspace_id = ? AND id = ? RETURNING *",
    ).get(status, now, workspaceId, id) as ModelRow | undefined;
    return row && rowToModel(row);
  }

  async insertModel(model: ModelRecord): Promise<void> {
    this.statement(insertModelSql).run(modelToRow(model));
  }

  async secret(name: string, create: () => string): Promise<string> {
    this.statement("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING").run(name, create());
    return (this.statement("SELECT value FROM settings WHERE name = ?").get(name) as { value: string }).value;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
