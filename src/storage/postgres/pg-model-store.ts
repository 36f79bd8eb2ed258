import type { TransactionSql } from "postgres";
import type {
  CopyRules,
  IdempotencyRecord,
  ModelListQuery,
  ModelListResult,
  ModelRecord,
  ModelStore,
  ModelWrite,
  RevisionPage,
  ShippedModel,
  ShippedWrite,
  WorkspaceRecord,
  WriteOutcome,
} from "../model-store.js";
import { createWorkspace, getWorkspace, inheritCopies, lockCatalog, writeCatalog } from "./pg-catalog-data.js";
import { materialize, workspaceModelSql } from "./pg-catalog-overlay.js";
import { isUniqueViolation, type PgDatabase } from "./pg-database.js";
import { listQueries, selectModel } from "./pg-list-query.js";
import { migrate } from "./pg-migrations.js";
import { insertModelSql, modelValues, rowToModel, updateModelSql, type PgModelRow, type PgParam } from "./pg-rows.js";
import { Refused, RolledBack } from "../write-rollback.js";

interface RequestRow {
  scope: string;
  request_id: string;
  request_hash: string;
  model_id: string;
  created_at: number;
}

function requestRecord(r: RequestRow): IdempotencyRecord {
  return { scope: r.scope, requestId: r.request_id, requestHash: r.request_hash, modelId: r.model_id, createdAt: r.created_at };
}

/** Whether an outcome stops an all-or-nothing batch: a retry of the same request (same hash) does not. */
function fails(outcome: WriteOutcome, write: ModelWrite): boolean {
  if (outcome.kind === "request-id-taken") return outcome.record.requestHash !== write.idempotency?.requestHash;
  return outcome.kind !== "written";
}

/** Last change-log position removed by pruning (kept in settings, so the head survives an emptied log). */
export const prunedThroughSetting = "change_log_pruned_through";

/**
 * ModelStore on PostgreSQL, for several replicas on one database. Races are
 * settled by the database: the version compare-and-set is in the UPDATE's
 * WHERE (READ COMMITTED re-checks it on the row's newest version), a request
 * id is claimed by inserting it first (ON CONFLICT waits for a concurrent
 * claimer to commit), and a live external id is a unique index.
 */
export class PgModelStore implements ModelStore {
  private constructor(private readonly db: PgDatabase) {}

  /** Connects and brings the schema up to date (see pg-migrations.ts); says the schema version it is at. */
  static async open(db: PgDatabase): Promise<{ store: PgModelStore; schemaVersion: number }> {
    const schemaVersion = await db.run(migrate);
    return { store: new PgModelStore(db), schemaVersion };
  }

  writeCatalog(plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[], copies: CopyRules): Promise<void> {
    return this.db.transaction(async (tx) => {
      // Replicas starting at once: the second plans from what the first wrote.
      await lockCatalog(tx);
      return writeCatalog(tx, plan, copies);
    });
  }

  getWorkspace(id: string): Promise<WorkspaceRecord | undefined> {
    return this.db.run((sql) => getWorkspace(sql, id));
  }

  createWorkspace(workspace: WorkspaceRecord, createdAt: number): Promise<WorkspaceRecord> {
    return this.db.run((sql) => createWorkspace(sql, workspace, createdAt));
  }

  async listModels(q: ModelListQuery): Promise<ModelListResult> {
    const queries = listQueries(q);
    // One snapshot for the count, the page and the facets.
    return this.db.run((sql) =>
      sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
        const total = queries.count ? (await tx.unsafe<Array<{ n: number }>>(queries.count.text, queries.count.params))[0]!.n : 0;
        const rows = await tx.unsafe<Array<PgModelRow & Record<string, string | number | null>>>(queries.page.text, queries.page.params);
        const result: ModelListResult = {
          models: rows.map(rowToModel),
          positions: rows.map((r) => ({ values: Array.from({ length: queries.positionKeys }, (_v, i) => r[`sort_${i}`] ?? null), id: r.id })),
          total,
        };
        if (queries.facets.length > 0) {
          result.facets = {};
          for (const { field, query } of queries.facets) {
            result.facets[field] = [...(await tx.unsafe<Array<{ value: string; count: number }>>(query.text, query.params))].map((f) => ({
              value: f.value,
              count: f.count,
            }));
          }
        }
        return result;
      }),
    );
  }

  async getModel(workspaceId: string | null, id: string): Promise<ModelRecord | undefined> {
    const rows = await this.db.run((sql) =>
      workspaceId === null
        ? sql.unsafe<PgModelRow[]>(`SELECT ${selectModel} FROM models WHERE workspace_id IS NULL AND id = $1`, [id])
        : sql.unsafe<PgModelRow[]>(workspaceModelSql, [workspaceId, id]),
    );
    return rows[0] && rowToModel(rows[0]);
  }

  async findByExternalId(workspaceId: string | null, externalId: string): Promise<ModelRecord | undefined> {
    const rows = await this.db.run((sql) =>
      sql.unsafe<PgModelRow[]>(
        `SELECT ${selectModel} FROM models WHERE coalesce(workspace_id, '') = $1 AND external_id = $2 AND delete_time IS NULL`,
        [workspaceId ?? "", externalId],
      ),
    );
    return rows[0] && rowToModel(rows[0]);
  }

  async writeModel(write: ModelWrite): Promise<WriteOutcome> {
    const { outcomes } = await this.writeModels([write]);
    return outcomes[0]!;
  }

  async writeModels(writes: ModelWrite[]): Promise<{ outcomes: WriteOutcome[]; failedIndex?: number }> {
    const outcomes: WriteOutcome[] = [];
    try {
      await this.db.transaction(async (tx) => {
        for (const [i, write] of writes.entries()) {
          const outcome = await this.writeOrConflict(tx, write);
          outcomes.push(outcome);
          // Undo the writes before it: the batch is all or nothing.
          if (fails(outcome, write)) throw new RolledBack(i);
        }
      }, deadlineOf(writes));
      return { outcomes };
    } catch (e) {
      if (e instanceof RolledBack) return { outcomes, failedIndex: e.index };
      throw e;
    }
  }

  async writeEach(writes: ModelWrite[]): Promise<WriteOutcome[]> {
    return this.db.transaction(async (tx) => {
      const outcomes: WriteOutcome[] = [];
      for (const write of writes) {
        try {
          // Each write in a savepoint of its own: a refused one is undone alone.
          outcomes.push(
            await tx.savepoint(async (sp) => {
              const outcome = await this.writeOrConflict(sp, write);
              if (outcome.kind !== "written") throw new Refused(outcome);
              return outcome;
            }),
          );
        } catch (e) {
          if (!(e instanceof Refused)) throw e;
          outcomes.push(e.outcome);
        }
      }
      return outcomes;
    }, deadlineOf(writes));
  }

  /** One write; a taken external id aborts the transaction (or savepoint) it runs in, which the caller rolls back. */
  private async writeOrConflict(tx: TransactionSql, write: ModelWrite): Promise<WriteOutcome> {
    try {
      return await this.writeInTransaction(tx, write);
    } catch (e) {
      if (isUniqueViolation(e, "models_external_id")) return { kind: "external-id-taken" };
      throw e;
    }
  }

  private async writeInTransaction(tx: TransactionSql, write: ModelWrite): Promise<WriteOutcome> {
    const { model, idempotency } = write;
    if (idempotency) {
      // Claimed first: a concurrent claim of the same id waits here for the other transaction, then sees its row.
      const claimed = await tx.unsafe(
        "INSERT INTO request_ids (scope, request_id, request_hash, model_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
        [idempotency.scope, idempotency.requestId, idempotency.requestHash, idempotency.modelId, idempotency.createdAt],
      );
      if (claimed.length === 0) {
        const [first] = await tx.unsafe<RequestRow[]>("SELECT * FROM request_ids WHERE scope = $1 AND request_id = $2", [
          idempotency.scope,
          idempotency.requestId,
        ]);
        return { kind: "request-id-taken", record: requestRecord(first!) };
      }
    }
    const copies = model.workspaceId === null ? write.copies : undefined;
    // Before the system model's row is locked, so that the order of locks is the same as a catalog write's.
    if (copies) await lockCatalog(tx);
    if (write.expectedVersion === undefined) {
      await tx.unsafe(insertModelSql, modelValues(model));
    } else if (!(await this.update(tx, model, write.expectedVersion))) {
      return { kind: "stale" };
    }
    if (copies && write.expectedVersion !== undefined) await inheritCopies(tx, model, copies);
    const r = write.revision;
    await tx.unsafe(
      "INSERT INTO model_revisions (id, model_id, action, profile_id, request_id, changes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      [r.id, r.modelId, r.action, r.profileId, r.requestId, r.changes as unknown as PgParam, r.createdAt],
    );
    return { kind: "written", model };
  }

  /**
   * Replaces the model if it still has the expected version; the first write
   * to a virtual catalog copy makes it a row first (with the version it had
   * as a virtual copy). False when it is stale or gone.
   */
  private async update(tx: TransactionSql, model: ModelRecord, expectedVersion: number): Promise<boolean> {
    const run = async () => (await tx.unsafe(updateModelSql, [...modelValues(model), expectedVersion])).count > 0;
    if (await run()) return true;
    if (model.workspaceId === null || model.systemModelId === null) return false;
    await materialize(tx, model.workspaceId, model.systemModelId);
    return run();
  }

  async overriddenCopies(systemModelId: string): Promise<ModelRecord[]> {
    const rows = await this.db.run((sql) =>
      sql.unsafe<PgModelRow[]>(
        `SELECT ${selectModel} FROM models WHERE system_model_id = $1 AND price_override IS NOT NULL AND delete_time IS NULL`,
        [systemModelId],
      ),
    );
    return rows.map(rowToModel);
  }

  async copyRows(systemModelId: string): Promise<ModelRecord[]> {
    const rows = await this.db.run((sql) =>
      sql.unsafe<PgModelRow[]>(`SELECT ${selectModel} FROM models WHERE system_model_id = $1 AND delete_time IS NULL`, [systemModelId]),
    );
    return rows.map(rowToModel);
  }

  async insertModel(model: ModelRecord): Promise<void> {
    await this.db.run((sql) => sql.unsafe(insertModelSql, modelValues(model)));
  }

  async findRequest(scope: string, requestId: string): Promise<IdempotencyRecord | undefined> {
    const [row] = await this.db.run((sql) => sql.unsafe<RequestRow[]>("SELECT * FROM request_ids WHERE scope = $1 AND request_id = $2", [scope, requestId]));
    return row && requestRecord(row);
  }

  async listRevisions(modelId: string, limit: number, beforeId?: string): Promise<RevisionPage> {
    return this.db.run((sql) =>
      sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
        const [count] = await tx.unsafe<Array<{ n: number }>>("SELECT count(*) AS n FROM model_revisions WHERE model_id = $1", [modelId]);
        const rows = await tx.unsafe<Array<{ id: string; model_id: string; action: string; profile_id: string; request_id: string; changes: unknown; created_at: number }>>(
          beforeId === undefined
            ? "SELECT * FROM model_revisions WHERE model_id = $1 ORDER BY id DESC LIMIT $2"
            : "SELECT * FROM model_revisions WHERE model_id = $1 AND id < $3 ORDER BY id DESC LIMIT $2",
          beforeId === undefined ? [modelId, limit] : [modelId, limit, beforeId],
        );
        return {
          total: count!.n,
          revisions: rows.map((r) => ({
            id: r.id,
            modelId: r.model_id,
            action: r.action,
            profileId: r.profile_id,
            requestId: r.request_id,
            changes: r.changes as RevisionPage["revisions"][number]["changes"],
            createdAt: r.created_at,
          })),
        };
      }),
    );
  }

  async sealedCredentials(): Promise<Array<{ id: string; keyId: string; blob: Uint8Array }>> {
    const rows = await this.db.run((sql) =>
      sql.unsafe<Array<{ id: string; credentials_key_id: string; credentials_blob: Uint8Array }>>(
        "SELECT id, credentials_key_id, credentials_blob FROM models WHERE credentials_blob IS NOT NULL",
      ),
    );
    return rows.map((r) => ({ id: r.id, keyId: r.credentials_key_id, blob: new Uint8Array(r.credentials_blob) }));
  }

  async resealCredentials(id: string, keyId: string, blob: Uint8Array): Promise<void> {
    await this.db.run((sql) => sql.unsafe("UPDATE models SET credentials_key_id = $1, credentials_blob = $2 WHERE id = $3", [keyId, blob, id]));
  }

  async purgeDeleted(now: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      // Copies first: they reference their system model.
      await tx.unsafe("DELETE FROM models WHERE system_model_id IN (SELECT id FROM models WHERE purge_time IS NOT NULL AND purge_time <= $1)", [now]);
      return (await tx.unsafe("DELETE FROM models WHERE purge_time IS NOT NULL AND purge_time <= $1", [now])).count;
    });
  }

  async secret(name: string, create: () => string): Promise<string> {
    return this.db.run(async (sql) => {
      await sql.unsafe("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [name, create()]);
      const [row] = await sql.unsafe<Array<{ value: string }>>("SELECT value FROM settings WHERE name = $1", [name]);
      return row!.value;
    });
  }

  async replaceSecret(name: string, expected: string, value: string): Promise<void> {
    await this.db.run(async (sql) => {
      await sql.unsafe("UPDATE settings SET value = $1 WHERE name = $2 AND value = $3", [value, name, expected]);
      // The old row version stays in the table's pages until vacuumed: vacuum now rather than at autovacuum's leisure.
      await sql.unsafe("VACUUM settings");
    });
  }

  async changeStamp(): Promise<string> {
    // The change log's head: every commit that changes what reads return appends to it, on any replica, in commit order.
    const [row] = await this.db.run((sql) =>
      sql.unsafe<Array<{ head: number }>>(
        `SELECT greatest((SELECT max(seq) FROM model_changes), (SELECT value::bigint FROM settings WHERE name = '${prunedThroughSetting}'), 0) AS head`,
      ),
    );
    return String(row!.head);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function deadlineOf(writes: ModelWrite[]): number {
  return Math.min(...writes.map((w) => w.deadline ?? Infinity));
}
