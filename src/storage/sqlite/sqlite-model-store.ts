import type { JsonObject } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type {
  CatalogEntryRecord,
  CatalogSyncResult,
  CopyContext,
  IdempotencyRecord,
  ListPosition,
  ModelListQuery,
  ModelListResult,
  ModelRecord,
  ModelSpecRecord,
  ModelStore,
  ModelWrite,
  RevisionPage,
  RevisionRecord,
  StoredModelOrigin,
  StoredModelStatus,
  WorkspaceRecord,
  WriteOutcome,
} from "../model-store.js";
import { DeadlinePassedError, noCredentials } from "../model-store.js";
import { filterToSql, orderToSql } from "./filter-sql.js";
import { migrate } from "./migrations.js";
import type { RowReader } from "./row-reader.js";
import { SerialWriter } from "./serial-writer.js";
import { StatementCache } from "./statement-cache.js";

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

/** What a system model hands down to its copies: the spec, visibility, and what may be said of its credentials. */
const inheritedColumns = [
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
  "pricing",
  "price_history",
  "lifecycle",
  "source",
  "modalities",
  "reasoning",
  "temperature",
] as const;

const modelColumns = [
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
  ...inheritedColumns,
  "credentials_key_id",
  "credentials_blob",
  "status",
  "version",
  "created_at",
  "updated_at",
  "delete_time",
  "purge_time",
  "price_override",
  "upstream_changed",
] as const;

const insertModelSql = `INSERT INTO models (${modelColumns.join(", ")}) VALUES (${modelColumns.map((c) => "@" + c).join(", ")})`;
const updateModelSql = `UPDATE models SET ${modelColumns
  .filter((c) => c !== "id")
  .map((c) => `${c} = @${c}`)
  .join(", ")} WHERE id = @id AND version = @expected_version`;
const inheritSql = `UPDATE models SET ${inheritedColumns.map((c) => `${c} = @${c}`).join(", ")},
  version = version + 1, updated_at = @updated_at, delete_time = @delete_time, purge_time = @purge_time
  WHERE system_model_id = @id`;

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
    priceHistory: JSON.parse(r.price_history) as JsonObject[],
    lifecycle: jsonOrNull(r.lifecycle),
    source: jsonOrNull(r.source),
    modalities: jsonOrNull(r.modalities),
    reasoning: jsonOrNull(r.reasoning),
    temperature: jsonOrNull(r.temperature),
    priceOverride: jsonOrNull(r.price_override),
    upstreamChanged: jsonOrNull(r.upstream_changed),
  };
}

function jsonOrNull(text: string | null): JsonObject | null {
  return text === null ? null : (JSON.parse(text) as JsonObject);
}

function textOrNull(value: JsonObject | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

function modelToRow(m: ModelRecord): ModelRow {
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

/** A workspace's copy of a system model: its own id and status, everything else inherited. */
function copyOf(system: ModelRecord, ws: WorkspaceRecord, copy: CopyContext): ModelRecord {
  return {
    ...system,
    id: copy.newId(),
    workspaceId: ws.id,
    accountId: ws.accountId,
    bundleKey: null,
    externalId: null,
    labels: {},
    systemModelId: system.id,
    spec: { ...system.spec, priceOverride: null, upstreamChanged: null },
    credentials: { ...system.credentials, keyId: null, blob: null },
    status: "MODEL_STATUS_ENABLED",
    version: 1,
    createdAt: copy.now,
    updatedAt: copy.now,
  };
}

interface SortKey {
  expr: string;
  descending: boolean;
  nullable: boolean;
}

/** The full order of a list: the explicit terms, search rank, then creation time and id (unique, so pages never overlap). */
function sortKeys(q: ModelListQuery): SortKey[] {
  const keys: SortKey[] = [];
  if (q.order.length > 0) {
    for (const k of orderToSql(q.order).keys) keys.push({ expr: `models.${k.column}`, descending: k.descending, nullable: k.nullable });
  } else if (q.rankBySearch && q.search.length > 0) {
    keys.push({ expr: "hits.search_rank", descending: false, nullable: false });
  }
  keys.push({ expr: "models.created_at", descending: q.descending, nullable: false });
  keys.push({ expr: "models.id", descending: q.descending, nullable: false });
  return keys;
}

function orderTerm(k: SortKey): string {
  return `${k.expr} ${k.descending ? "DESC" : "ASC"}${k.nullable ? " NULLS LAST" : ""}`;
}

/**
 * Keyset condition "comes after this position" for any order: equal on the
 * leading keys and past the position on the next one, where unset values sort
 * last whatever the direction.
 */
function keysetAfter(keys: SortKey[], after: ListPosition, params: Record<string, unknown>): string {
  const values = [...after.values, after.id];
  const disjuncts: string[] = [];
  keys.forEach((key, k) => {
    const value = values[k] ?? null;
    if (value === null) return; // nothing sorts after an unset value but through later keys
    const equal = keys.slice(0, k).map((prev, i) => `${prev.expr} IS @after${i}`);
    const past = `${key.expr} ${key.descending ? "<" : ">"} @after${k}`;
    equal.push(key.nullable ? `(${past} OR ${key.expr} IS NULL)` : past);
    disjuncts.push(`(${equal.join(" AND ")})`);
  });
  values.forEach((v, i) => (params[`after${i}`] = v ?? null));
  return disjuncts.length > 0 ? `(${disjuncts.join(" OR ")})` : "0";
}

/** Escapes LIKE wildcards so user text matches literally (with ESCAPE '\'). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

function digest(entry: CatalogEntryRecord): string {
  return createHash("sha256").update(JSON.stringify(entry)).digest("base64url");
}

function isUniqueViolation(e: unknown, index: string): boolean {
  return e instanceof Database.SqliteError && e.code === "SQLITE_CONSTRAINT_UNIQUE" && e.message.includes(index);
}

/** Thrown inside a transaction to roll it back, carrying the index of the write that failed. */
class RolledBack extends Error {
  constructor(readonly index: number) {
    super(`write ${index} failed`);
  }
}

/** Thrown inside a savepoint to undo one write that did not happen, carrying its outcome. */
class Refused extends Error {
  constructor(readonly outcome: WriteOutcome) {
    super(`write refused: ${outcome.kind}`);
  }
}

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  path: string;
  busyTimeoutMs?: number;
  /** The actor recorded as creator of shipped system models. */
  systemProfileId: string;
}

/**
 * ModelStore on better-sqlite3: WAL journal, busy timeout, versioned
 * migrations at open, and every statement prepared once and reused.
 *
 * Two connections: every write goes through `writer` (one transaction at a
 * time, queued asynchronously, long ones in chunks that let the event loop
 * in), every read through `db`, which sees only committed transactions. So
 * an import of many rows keeps other calls responsive, and they see all of
 * it or none of it. (":memory:" is one database per connection: there both
 * are one connection and a transaction runs without letting the event loop in.)
 */
export class SqliteModelStore implements ModelStore {
  /** The read connection, shared with the other SQLite stores of the process (drafts). */
  readonly db: Database.Database;
  /** The write connection and its queue, shared with the other SQLite stores of the process. */
  readonly writer: SerialWriter;
  private readonly onReader: StatementCache;
  private readonly onWriter: StatementCache;
  private readonly ownChanges: Database.Statement;
  private readonly otherCommits: Database.Statement;

  constructor(private readonly options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const writeDb = this.open();
    migrate(writeDb);
    this.db = options.path === ":memory:" ? writeDb : this.open();
    this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    this.writer = new SerialWriter(writeDb, busyTimeoutMs, this.db !== writeDb);
    this.onReader = new StatementCache(this.db);
    this.onWriter = new StatementCache(writeDb);
    this.ownChanges = this.db.prepare("SELECT total_changes()").pluck();
    this.otherCommits = this.db.prepare("PRAGMA data_version").pluck();
  }

  private open(): Database.Database {
    const db = new Database(this.options.path);
    db.pragma("journal_mode = WAL");
    // In WAL mode NORMAL loses no committed transaction when the process dies
    // (kill -9); only an operating-system crash or power loss can cost the
    // last commits.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    return db;
  }

  /** Statements of the connection the running code may use: the writer's inside a write, else the reader's. */
  private prepared(): StatementCache {
    return this.writer.writing ? this.onWriter : this.onReader;
  }

  private statement(sql: string): Database.Statement {
    return this.prepared().statement(sql);
  }

  /** A cached statement reading model rows (see RowReader). */
  private modelRows<Row = ModelRow>(sql: string): RowReader<Row> {
    return this.prepared().modelRows<Row>(sql);
  }

  private workspaces(): WorkspaceRecord[] {
    return (this.statement("SELECT id, account_id FROM workspaces ORDER BY created_at, id").all() as Array<{ id: string; account_id: string }>).map(
      (r) => ({ id: r.id, accountId: r.account_id }),
    );
  }

  /** Gives every workspace that has none a copy of the system model. */
  private insertCopies(system: ModelRecord, copy: CopyContext): number {
    const without = this.workspaces().filter(
      (ws) => this.statement("SELECT 1 FROM models WHERE workspace_id = ? AND system_model_id = ?").get(ws.id, system.id) === undefined,
    );
    for (const ws of without) this.statement(insertModelSql).run(modelToRow(copyOf(system, ws, copy)));
    return without.length;
  }

  async syncCatalog(entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult> {
    return this.writer.run((): CatalogSyncResult => {
      const result: CatalogSyncResult = { added: 0, changed: 0, copiesCreated: 0 };
      entries.forEach((entry, position) => {
        const entryDigest = digest(entry);
        const row = this.statement("SELECT * FROM models WHERE workspace_id IS NULL AND catalog_id = ?").get(
          entry.catalogId,
        ) as (ModelRow & { shipped_digest: string | null }) | undefined;
        if (!row) {
          const system: ModelRecord = {
            id: copy.newId(),
            workspaceId: null,
            accountId: null,
            name: entry.name,
            profileId: this.options.systemProfileId,
            bundleKey: null,
            externalId: null,
            labels: {},
            catalogId: entry.catalogId,
            systemModelId: null,
            origin: "MODEL_ORIGIN_SYSTEM",
            visible: true,
            spec: entry.spec,
            credentials: noCredentials,
            status: null,
            version: 1,
            createdAt: copy.now,
            updatedAt: copy.now,
            deleteTime: null,
            purgeTime: null,
          };
          this.statement(insertModelSql).run(modelToRow(system));
          this.statement("UPDATE models SET shipped_digest = ?, shipped_position = ? WHERE id = ?").run(entryDigest, position, system.id);
          result.added++;
          result.copiesCreated += this.insertCopies(system, copy);
          return;
        }
        this.statement("UPDATE models SET shipped_position = ? WHERE id = ?").run(position, row.id);
        // Only a change of the shipped entry itself is applied, so an admin's
        // edit of the system model survives restarts of the same release.
        if (row.shipped_digest === entryDigest) return;
        result.changed++;
        const system = { ...rowToModel(row), name: entry.name, spec: entry.spec, version: row.version + 1, updatedAt: copy.now };
        this.statement(updateModelSql).run({ ...modelToRow(system), expected_version: row.version });
        this.statement("UPDATE models SET shipped_digest = ? WHERE id = ?").run(entryDigest, row.id);
        this.inherit(system);
      });
      return result;
    });
  }

  /** Copies a system model's inherited columns onto its workspace copies. */
  private inherit(system: ModelRecord): void {
    const row = modelToRow(system);
    const params: Record<string, unknown> = { id: system.id, updated_at: system.updatedAt, delete_time: system.deleteTime, purge_time: system.purgeTime };
    for (const c of inheritedColumns) params[c] = row[c];
    this.statement(inheritSql).run(params);
  }

  async ensureWorkspace(workspace: WorkspaceRecord, copy: CopyContext): Promise<WorkspaceRecord> {
    const found = this.findWorkspace(workspace.id);
    if (found) return found;
    return this.writer.run((): WorkspaceRecord => {
      const raced = this.findWorkspace(workspace.id);
      if (raced) return raced;
      this.statement("INSERT INTO workspaces (id, account_id, created_at) VALUES (?, ?, ?)").run(workspace.id, workspace.accountId, copy.now);
      const systems = this.statement(
        `SELECT * FROM models WHERE workspace_id IS NULL AND visible = 1 AND delete_time IS NULL
         ORDER BY shipped_position IS NULL, shipped_position, created_at, id`,
      ).all() as ModelRow[];
      for (const system of systems) this.statement(insertModelSql).run(modelToRow(copyOf(rowToModel(system), workspace, copy)));
      return workspace;
    });
  }

  private findWorkspace(id: string): WorkspaceRecord | undefined {
    const row = this.statement("SELECT id, account_id FROM workspaces WHERE id = ?").get(id) as { id: string; account_id: string } | undefined;
    return row && { id: row.id, accountId: row.account_id };
  }

  async listModels(q: ModelListQuery): Promise<ModelListResult> {
    const params: Record<string, unknown> = {};
    const where = this.listFilter(q, params);
    const from = q.search.length > 0 ? `models JOIN hits ON hits.rowid = models.rowid` : "models";
    // Ranked by bm25 with column weights (name, family, provider, description,
    // labels, external id): a match in the name outranks one in a label.
    const withHits =
      q.search.length > 0
        ? "WITH hits AS MATERIALIZED (SELECT rowid, bm25(models_fts, 10, 4, 2, 1, 1, 2) AS search_rank FROM models_fts WHERE models_fts MATCH @match) "
        : "";
    if (q.search.length > 0) params.match = q.search.map((t) => `"${t.replace(/"/g, '""')}"*`).join(" ");
    const filter = where.join(" AND ");
    const total = q.skipTotal
      ? 0
      : (this.statement(`${withHits}SELECT count(*) AS n FROM ${from} WHERE ${filter}`).get(params) as { n: number }).n;

    const keys = sortKeys(q);
    let page = filter;
    if (q.after) page += ` AND ${keysetAfter(keys, q.after, params)}`;
    params.limit = q.limit;
    const select = keys.map((k, i) => `${k.expr} AS sort_${i}`).join(", ");
    const rows = this.modelRows<ModelRow & Record<string, string | number | null>>(
      `${withHits}SELECT models.*, ${select} FROM ${from} WHERE ${page} ORDER BY ${keys.map(orderTerm).join(", ")} LIMIT @limit`,
    ).all(params);
    const result: ModelListResult = {
      models: rows.map(rowToModel),
      positions: rows.map((r) => ({ values: keys.slice(0, -1).map((_k, i) => r[`sort_${i}`] ?? null), id: r.id })),
      total,
    };
    if (q.facets) {
      result.facets = {};
      for (const [field, column] of [
        ["spec.provider", "provider"],
        ["spec.status", "status"],
      ] as const) {
        result.facets[field] = (
          this.statement(
            `${withHits}SELECT ${column} AS value, count(*) AS count FROM ${from} WHERE ${filter} AND ${column} IS NOT NULL
             GROUP BY ${column} ORDER BY count DESC, ${column}`,
          ).all(params) as Array<{ value: string; count: number }>
        ).map((f) => ({ value: f.value, count: f.count }));
      }
    }
    return result;
  }

  /** The WHERE terms of a list query, with their parameters. */
  private listFilter(q: ModelListQuery, params: Record<string, unknown>): string[] {
    const where: string[] = [q.workspaceId === null ? "workspace_id IS NULL" : "workspace_id = @workspaceId"];
    if (q.workspaceId !== null) params.workspaceId = q.workspaceId;
    if (!q.showDeleted) where.push("delete_time IS NULL");
    if (!q.showHidden) where.push("visible = 1");
    if (q.status) {
      where.push("status = @status");
      params.status = q.status;
    }
    if (q.bundleKey) {
      where.push("bundle_key = @bundleKey");
      params.bundleKey = q.bundleKey;
    }
    if (q.prefix) {
      where.push("(name LIKE @prefix ESCAPE '\\' OR external_id LIKE @prefix ESCAPE '\\' OR id LIKE @prefix ESCAPE '\\')");
      params.prefix = likeLiteral(q.prefix) + "%";
    }
    q.labels.forEach(([key, value], i) => {
      where.push(`EXISTS (SELECT 1 FROM json_each(models.labels) WHERE key = @labelKey${i} AND value = @labelValue${i})`);
      params[`labelKey${i}`] = key;
      params[`labelValue${i}`] = value;
    });
    if (q.filter) where.push(`(${filterToSql(q.filter, params)})`);
    return where;
  }

  async getModel(workspaceId: string | null, id: string): Promise<ModelRecord | undefined> {
    const row =
      workspaceId === null
        ? this.modelRows("SELECT * FROM models WHERE workspace_id IS NULL AND id = ?").get(id)
        : this.modelRows("SELECT * FROM models WHERE workspace_id = ? AND id = ?").get(workspaceId, id);
    return row && rowToModel(row);
  }

  async findByExternalId(workspaceId: string | null, externalId: string): Promise<ModelRecord | undefined> {
    const row = this.statement(
      "SELECT * FROM models WHERE ifnull(workspace_id, '') = ? AND external_id = ? AND delete_time IS NULL",
    ).get(workspaceId ?? "", externalId) as ModelRow | undefined;
    return row && rowToModel(row);
  }

  async overriddenCopies(systemModelId: string): Promise<ModelRecord[]> {
    const rows = this.statement(
      "SELECT * FROM models WHERE system_model_id = ? AND price_override IS NOT NULL AND delete_time IS NULL",
    ).all(systemModelId) as ModelRow[];
    return rows.map(rowToModel);
  }

  async writeModel(write: ModelWrite): Promise<WriteOutcome> {
    const { outcomes } = await this.writeModels([write]);
    return outcomes[0]!;
  }

  async writeModels(writes: ModelWrite[]): Promise<{ outcomes: WriteOutcome[]; failedIndex?: number }> {
    const outcomes: WriteOutcome[] = [];
    const deadline = Math.min(...writes.map((w) => w.deadline ?? Infinity));
    const step = (write: ModelWrite, i: number): void => {
      const outcome = this.writeOrConflict(write);
      outcomes.push(outcome);
      // Undo the writes before it: the batch is all or nothing.
      const reusedRequestId = outcome.kind === "request-id-taken" && outcome.record.requestHash !== write.idempotency?.requestHash;
      if (outcome.kind === "stale" || outcome.kind === "external-id-taken" || reusedRequestId) throw new RolledBack(i);
    };
    // Checked after each chunk and last, after the work: a caller that has given up gets no half-acknowledged write.
    const inTime = () => {
      if (Date.now() >= deadline) throw new DeadlinePassedError();
    };
    try {
      await this.writer.runEach(writes, step, inTime);
      return { outcomes };
    } catch (e) {
      if (e instanceof RolledBack) return { outcomes, failedIndex: e.index };
      throw e;
    }
  }

  async writeEach(writes: ModelWrite[]): Promise<WriteOutcome[]> {
    const deadline = Math.min(...writes.map((w) => w.deadline ?? Infinity));
    // Nested in the writer's transaction, each write runs in a savepoint of its own.
    const one = this.writer.db.transaction((write: ModelWrite): WriteOutcome => {
      const outcome = this.writeOrConflict(write);
      if (outcome.kind !== "written") throw new Refused(outcome);
      return outcome;
    });
    const step = (write: ModelWrite): WriteOutcome => {
      try {
        return one(write);
      } catch (e) {
        if (e instanceof Refused) return e.outcome;
        throw e;
      }
    };
    // Checked after each chunk and last: past the deadline the whole transaction rolls back.
    return this.writer.runEach(writes, step, () => {
      if (Date.now() >= deadline) throw new DeadlinePassedError();
    });
  }

  private writeOrConflict(write: ModelWrite): WriteOutcome {
    try {
      return this.writeInTransaction(write);
    } catch (e) {
      if (isUniqueViolation(e, "models_external_id")) return { kind: "external-id-taken" };
      throw e;
    }
  }

  private writeInTransaction(write: ModelWrite): WriteOutcome {
    const { model, idempotency } = write;
    if (idempotency) {
      const first = this.findRequestSync(idempotency.scope, idempotency.requestId);
      if (first) return { kind: "request-id-taken", record: first };
    }
    if (write.expectedVersion === undefined) {
      this.statement(insertModelSql).run(modelToRow(model));
    } else {
      const changed = this.statement(updateModelSql).run({ ...modelToRow(model), expected_version: write.expectedVersion }).changes;
      if (changed === 0) return { kind: "stale" };
    }
    if (write.copies && model.workspaceId === null) {
      if (write.expectedVersion !== undefined) this.inherit(model);
      // A system model made visible reaches the workspaces that have no copy yet.
      if (model.visible && model.deleteTime === null) this.insertCopies(model, write.copies);
    }
    const r = write.revision;
    this.statement(
      "INSERT INTO model_revisions (id, model_id, action, profile_id, request_id, changes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(r.id, r.modelId, r.action, r.profileId, r.requestId, JSON.stringify(r.changes), r.createdAt);
    if (idempotency) {
      this.statement("INSERT INTO request_ids (scope, request_id, request_hash, model_id, created_at) VALUES (?, ?, ?, ?, ?)").run(
        idempotency.scope,
        idempotency.requestId,
        idempotency.requestHash,
        idempotency.modelId,
        idempotency.createdAt,
      );
    }
    return { kind: "written", model };
  }

  async insertModel(model: ModelRecord): Promise<void> {
    await this.writer.run(() => this.statement(insertModelSql).run(modelToRow(model)));
  }

  private findRequestSync(scope: string, requestId: string): IdempotencyRecord | undefined {
    const row = this.statement("SELECT * FROM request_ids WHERE scope = ? AND request_id = ?").get(scope, requestId) as
      | { scope: string; request_id: string; request_hash: string; model_id: string; created_at: number }
      | undefined;
    return row && { scope: row.scope, requestId: row.request_id, requestHash: row.request_hash, modelId: row.model_id, createdAt: row.created_at };
  }

  async findRequest(scope: string, requestId: string): Promise<IdempotencyRecord | undefined> {
    return this.findRequestSync(scope, requestId);
  }

  async listRevisions(modelId: string, limit: number, beforeId?: string): Promise<RevisionPage> {
    const total = (this.statement("SELECT count(*) AS n FROM model_revisions WHERE model_id = ?").get(modelId) as { n: number }).n;
    const rows = (
      beforeId === undefined
        ? this.statement("SELECT * FROM model_revisions WHERE model_id = ? ORDER BY id DESC LIMIT ?").all(modelId, limit)
        : this.statement("SELECT * FROM model_revisions WHERE model_id = ? AND id < ? ORDER BY id DESC LIMIT ?").all(modelId, beforeId, limit)
    ) as Array<{ id: string; model_id: string; action: string; profile_id: string; request_id: string; changes: string; created_at: number }>;
    const revisions: RevisionRecord[] = rows.map((r) => ({
      id: r.id,
      modelId: r.model_id,
      action: r.action,
      profileId: r.profile_id,
      requestId: r.request_id,
      changes: JSON.parse(r.changes) as RevisionRecord["changes"],
      createdAt: r.created_at,
    }));
    return { revisions, total };
  }

  async sealedCredentials(): Promise<Array<{ id: string; keyId: string; blob: Uint8Array }>> {
    const rows = this.statement("SELECT id, credentials_key_id, credentials_blob FROM models WHERE credentials_blob IS NOT NULL").all() as Array<{
      id: string;
      credentials_key_id: string;
      credentials_blob: Uint8Array;
    }>;
    return rows.map((r) => ({ id: r.id, keyId: r.credentials_key_id, blob: r.credentials_blob }));
  }

  async resealCredentials(id: string, keyId: string, blob: Uint8Array): Promise<void> {
    await this.writer.run(() => this.statement("UPDATE models SET credentials_key_id = ?, credentials_blob = ? WHERE id = ?").run(keyId, blob, id));
  }

  async purgeDeleted(now: number): Promise<number> {
    return this.writer.run((): number => {
      // Copies first: they reference their system model.
      this.statement(
        "DELETE FROM models WHERE system_model_id IN (SELECT id FROM models WHERE purge_time IS NOT NULL AND purge_time <= ?)",
      ).run(now);
      return this.statement("DELETE FROM models WHERE purge_time IS NOT NULL AND purge_time <= ?").run(now).changes;
    });
  }

  async secret(name: string, create: () => string): Promise<string> {
    return this.writer.run(() => {
      this.statement("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING").run(name, create());
      return (this.statement("SELECT value FROM settings WHERE name = ?").get(name) as { value: string }).value;
    });
  }

  async replaceSecret(name: string, expected: string, value: string): Promise<void> {
    const db = this.writer.db;
    await this.writer.run(() => {
      // secure_delete zeroes the bytes the old value leaves behind, for this one statement.
      const secureDelete = db.pragma("secure_delete", { simple: true }) as number;
      db.pragma("secure_delete = ON");
      try {
        this.statement("UPDATE settings SET value = ? WHERE name = ? AND value = ?").run(value, name, expected);
      } finally {
        db.pragma(`secure_delete = ${secureDelete}`);
      }
    });
    // And the main file, not only the WAL, gets the page without them now rather than at the next checkpoint.
    await this.writer.exclusive(() => db.pragma("wal_checkpoint(TRUNCATE)"));
  }

  async changeStamp(): Promise<string> {
    // On the read connection: data_version moves with every commit of the writer and of other processes
    // (total_changes with the rows of the one connection of ":memory:").
    return `${this.ownChanges.get() as number}:${this.otherCommits.get() as number}`;
  }

  async close(): Promise<void> {
    await this.writer.drain();
    this.writer.db.close();
    if (this.db.open) this.db.close();
  }
}
