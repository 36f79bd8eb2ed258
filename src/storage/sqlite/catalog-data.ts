import type Database from "better-sqlite3";
import type { CopyRules, ModelRecord, ShippedModel, ShippedWrite, WorkspaceRecord } from "../model-store.js";
import type { CatalogOverlay } from "./catalog-overlay.js";
import { insertModelSql, modelToRow, rowToModel, updateModelSql, type ModelRow } from "./model-row.js";

type StatementOf = (sql: string) => Database.Statement;

/**
 * The rows of system models and of the workspace copies that are rows
 * (written to, or made before copies became virtual), kept in step by the
 * domain's copy rules: the statements run inside the caller's write
 * transaction. New system models and new workspaces get no copy rows: see
 * catalog-overlay.ts.
 */
export class CatalogData {
  constructor(
    private readonly statement: StatementOf,
    private readonly overlay: CatalogOverlay,
  ) {}

  workspace(id: string): WorkspaceRecord | undefined {
    const row = this.statement("SELECT id, account_id FROM workspaces WHERE id = ?").get(id) as { id: string; account_id: string } | undefined;
    return row && { id: row.id, accountId: row.account_id };
  }

  /** Inserts the workspace (its catalog copies are virtual: no rows); an existing one is returned as it is. */
  createWorkspace(workspace: WorkspaceRecord, createdAt: number): WorkspaceRecord {
    const found = this.workspace(workspace.id);
    if (found) return found;
    this.statement("INSERT INTO workspaces (id, account_id, created_at) VALUES (?, ?, ?)").run(workspace.id, workspace.accountId, createdAt);
    return workspace;
  }

  /** Rewrites the workspace copies of a system model by the rules' inherit. */
  inheritCopies(system: ModelRecord, copies: CopyRules): void {
    const rows = this.statement("SELECT * FROM models WHERE system_model_id = ?").all(system.id) as ModelRow[];
    for (const row of rows) {
      this.statement(updateModelSql).run({ ...modelToRow(copies.inherit(system, rowToModel(row))), expected_version: row.version });
    }
  }

  /** ModelStore.writeCatalog, inside the caller's transaction. */
  writeCatalog(plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[], copies: CopyRules): void {
    const rows = this.statement("SELECT * FROM models WHERE workspace_id IS NULL AND catalog_id IS NOT NULL").all() as Array<
      ModelRow & { shipped_digest: string | null }
    >;
    const shipped = new Map(rows.map((r) => [r.catalog_id!, { model: rowToModel(r), digest: r.shipped_digest }]));
    for (const write of plan(shipped)) {
      const { model } = write;
      if (write.expectedVersion !== undefined) {
        this.statement(updateModelSql).run({ ...modelToRow(model), expected_version: write.expectedVersion });
        this.inheritCopies(model, copies);
      } else if (write.digest !== undefined) {
        this.overlay.claimSuffix(model.id);
        this.statement(insertModelSql).run(modelToRow(model));
      }
      if (write.digest !== undefined) this.statement("UPDATE models SET shipped_digest = ? WHERE id = ?").run(write.digest, model.id);
      this.statement("UPDATE models SET shipped_position = ? WHERE id = ?").run(write.position, model.id);
    }
  }
}
