import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type {
  CopyRules,
  IdempotencyRecord,
  ModelListQuery,
  ModelListResult,
  ModelRecord,
  ModelStore,
  ModelWrite,
  RevisionPage,
  RevisionRecord,
  ShippedModel,
  ShippedWrite,
  WorkspaceRecord,
  WriteOutcome,
} from "../model-store.js";
import { DeadlinePassed } from "../store-errors.js";
import { CatalogData } from "./catalog-data.js";
import { CatalogOverlay, registerCopyIdFunction } from "./catalog-overlay.js";
import { listModels } from "./list-sql.js";
import { migrate } from "./migrations.js";
import { insertModelSql, modelToRow, rowToModel, updateModelSql, type ModelRow } from "./model-row.js";
import type { RowReader } from "./row-reader.js";
import { SerialWriter } from "./serial-writer.js";
import { StatementCache } from "./statement-cache.js";
import { Refused, RolledBack } from "../write-rollback.js";

function isUniqueViolation(e: unknown, index: string): boolean {
  return e instanceof Database.SqliteError && e.code === "SQLITE_CONSTRAINT_UNIQUE" && e.message.includes(index);
}

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  path: string;
  busyTimeoutMs?: number;
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
  /** What moves with every commit the read connection can see (changeStamp). */
  private readonly commitCounter: Database.Statement;
  private readonly overlay = new CatalogOverlay((sql) => this.statement(sql));
  private readonly catalog = new CatalogData((sql) => this.statement(sql), this.overlay);

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
    // data_version moves with every commit of another connection (the writer's, other processes'), but not with the
    // connection's own: ":memory:" has one connection for both, whose own rows total_changes counts.
    this.commitCounter = this.db.prepare(this.db === writeDb ? "SELECT total_changes()" : "PRAGMA data_version").pluck();
  }

  private open(): Database.Database {
    const db = new Database(this.options.path);
    db.pragma("journal_mode = WAL");
    // In WAL mode NORMAL loses no committed transaction when the process dies
    // (kill -9); only an operating-system crash or power loss can cost the
    // last commits.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    registerCopyIdFunction(db);
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

  async writeCatalog(plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[], copies: CopyRules): Promise<void> {
    return this.writer.run(() => this.catalog.writeCatalog(plan, copies));
  }

  async getWorkspace(id: string): Promise<WorkspaceRecord | undefined> {
    return this.catalog.workspace(id);
  }

  async createWorkspace(workspace: WorkspaceRecord, createdAt: number): Promise<WorkspaceRecord> {
    return this.writer.run(() => this.catalog.createWorkspace(workspace, createdAt));
  }

  async listModels(q: ModelListQuery): Promise<ModelListResult> {
    return listModels(q, (sql) => this.statement(sql), (sql) => this.modelRows(sql));
  }

  async getModel(workspaceId: string | null, id: string): Promise<ModelRecord | undefined> {
    const row =
      workspaceId === null
        ? this.modelRows("SELECT * FROM models WHERE workspace_id IS NULL AND id = ?").get(id)
        : (this.modelRows("SELECT * FROM models WHERE workspace_id = ? AND id = ?").get(workspaceId, id) ?? this.overlay.copy(workspaceId, id));
    return row && rowToModel(row);
  }

  async findByExternalId(workspaceId: string | null, externalId: string): Promise<ModelRecord | undefined> {
    const row = this.statement(
      "SELECT * FROM models WHERE ifnull(workspace_id, '') = ? AND external_id = ? AND delete_time IS NULL",
    ).get(workspaceId ?? "", externalId) as ModelRow | undefined;
    return row && rowToModel(row);
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
      if (Date.now() >= deadline) throw new DeadlinePassed();
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
      if (Date.now() >= deadline) throw new DeadlinePassed();
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
      if (model.workspaceId === null) this.overlay.claimSuffix(model.id);
      this.statement(insertModelSql).run(modelToRow(model));
    } else if (!this.update(model, write.expectedVersion)) {
      return { kind: "stale" };
    }
    if (write.copies && model.workspaceId === null && write.expectedVersion !== undefined) this.catalog.inheritCopies(model, write.copies);
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

  async overriddenCopies(systemModelId: string): Promise<ModelRecord[]> {
    const rows = this.statement(
      "SELECT * FROM models WHERE system_model_id = ? AND price_override IS NOT NULL AND delete_time IS NULL",
    ).all(systemModelId) as ModelRow[];
    return rows.map(rowToModel);
  }

  async copyRows(systemModelId: string): Promise<ModelRecord[]> {
    const rows = this.statement("SELECT * FROM models WHERE system_model_id = ? AND delete_time IS NULL").all(systemModelId) as ModelRow[];
    return rows.map(rowToModel);
  }

  /**
   * Replaces the model if it still has the expected version; the first write
   * to a virtual catalog copy makes it a row first (with the version it had
   * as a virtual copy). False when it is stale or gone.
   */
  private update(model: ModelRecord, expectedVersion: number): boolean {
    const run = () => this.statement(updateModelSql).run({ ...modelToRow(model), expected_version: expectedVersion }).changes > 0;
    if (run()) return true;
    return model.workspaceId !== null && model.systemModelId !== null && this.overlay.materialize(model.workspaceId, model.systemModelId) && run();
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
    return String(this.commitCounter.get() as number);
  }

  async close(): Promise<void> {
    await this.writer.drain();
    this.writer.db.close();
    if (this.db.open) this.db.close();
  }
}
