import type Database from "better-sqlite3";
import type { CopyRules, ModelRecord, ShippedModel, ShippedWrite, WorkspaceRecord } from "../model-store.js";
import { insertModelSql, modelToRow, rowToModel, updateModelSql, type ModelRow } from "./model-row.js";

type StatementOf = (sql: string) => Database.Statement;

/**
 * The rows of system models and their workspace copies, written by the
 * domain's copy rules: the statements run inside the caller's write
 * transaction.
 */
export class CatalogData {
  constructor(private readonly statement: StatementOf) {}

  workspace(id: string): WorkspaceRecord | undefined {
    const row = this.statement("SELECT id, account_id FROM workspaces WHERE id = ?").get(id) as { id: string; account_id: string } | undefined;
    return row && { id: row.id, accountId: row.account_id };
  }

  /** Inserts the workspace with the copies of the system models, in catalog order; an existing one is returned as it is. */
  createWorkspace(workspace: WorkspaceRecord, createdAt: number, copies: CopyRules): WorkspaceRecord {
    const found = this.workspace(workspace.id);
    if (found) return found;
    this.statement("INSERT INTO workspaces (id, account_id, created_at) VALUES (?, ?, ?)").run(workspace.id, workspace.accountId, createdAt);
    const systems = this.statement(
      `SELECT * FROM models WHERE workspace_id IS NULL ORDER BY shipped_position IS NULL, shipped_position, created_at, id`,
    ).all() as ModelRow[];
    for (const system of systems) {
      const copy = copies.copyOf(rowToModel(system), workspace);
      if (copy) this.statement(insertModelSql).run(modelToRow(copy));
    }
    return workspace;
  }

  /** Gives every workspace without a copy of the system model one (when the rules make one); returns how many. */
  insertCopies(system: ModelRecord, copies: CopyRules): number {
    const workspaces = this.statement(
      `SELECT id, account_id FROM workspaces w WHERE NOT EXISTS (SELECT 1 FROM models WHERE workspace_id = w.id AND system_model_id = ?)
       ORDER BY created_at, id`,
    ).all(system.id) as Array<{ id: string; account_id: string }>;
    let created = 0;
    for (const ws of workspaces) {
      const copy = copies.copyOf(system, { id: ws.id, accountId: ws.account_id });
      if (!copy) continue;
      this.statement(insertModelSql).run(modelToRow(copy));
      created++;
    }
    return created;
  }

  /** Rewrites the workspace copies of a system model by the rules' inherit. */
  inheritCopies(system: ModelRecord, copies: CopyRules): void {
    const rows = this.statement("SELECT * FROM models WHERE system_model_id = ?").all(system.id) as ModelRow[];
    for (const row of rows) {
      this.statement(updateModelSql).run({ ...modelToRow(copies.inherit(system, rowToModel(row))), expected_version: row.version });
    }
  }

  /** ModelStore.writeCatalog, inside the caller's transaction. */
  writeCatalog(plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[], copies: CopyRules): number {
    const rows = this.statement("SELECT * FROM models WHERE workspace_id IS NULL AND catalog_id IS NOT NULL").all() as Array<
      ModelRow & { shipped_digest: string | null }
    >;
    const shipped = new Map(rows.map((r) => [r.catalog_id!, { model: rowToModel(r), digest: r.shipped_digest }]));
    let copiesCreated = 0;
    for (const write of plan(shipped)) {
      const { model } = write;
      if (write.expectedVersion !== undefined) {
        this.statement(updateModelSql).run({ ...modelToRow(model), expected_version: write.expectedVersion });
        this.inheritCopies(model, copies);
      } else if (write.digest !== undefined) {
        this.statement(insertModelSql).run(modelToRow(model));
        copiesCreated += this.insertCopies(model, copies);
      }
      if (write.digest !== undefined) this.statement("UPDATE models SET shipped_digest = ? WHERE id = ?").run(write.digest, model.id);
      this.statement("UPDATE models SET shipped_position = ? WHERE id = ?").run(write.position, model.id);
    }
    return copiesCreated;
  }
}
