/*
 * The rows of system models and of the workspace copies that are rows
 * (written to, or made before copies became virtual), kept in step by the
 * domain's copy rules inside the caller's transaction (the PostgreSQL twin of
 * the SQLite store's catalog-data.ts); writeCatalog's and inheritCopies'
 * callers hold the catalog lock. New system models and new workspaces get no
 * copy rows: see pg-catalog-overlay.ts.
 */

import type { Sql, TransactionSql } from "postgres";
import type { CopyRules, ModelRecord, ShippedModel, ShippedWrite, WorkspaceRecord } from "../model-store.js";
import { selectModel } from "./pg-list-query.js";
import { insertModelSql, modelValues, rowToModel, updateModelSql, type PgModelRow } from "./pg-rows.js";

/**
 * Serializes, across replicas, the transactions that write system models
 * (catalog writes, system model writes): replicas starting at once plan the
 * catalog one after the other, each from what the other wrote.
 */
const catalogLock = 0x6361_7461; // "cata"

/** Takes the catalog lock for the rest of the transaction. */
export async function lockCatalog(tx: TransactionSql): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${catalogLock})`;
}

export async function getWorkspace(sql: Sql | TransactionSql, id: string): Promise<WorkspaceRecord | undefined> {
  const [row] = await sql<Array<{ id: string; account_id: string }>>`SELECT id, account_id FROM workspaces WHERE id = ${id}`;
  return row && { id: row.id, accountId: row.account_id };
}

/** Inserts the workspace (its catalog copies are virtual: no rows); an existing one is returned as it is. */
export async function createWorkspace(sql: Sql, workspace: WorkspaceRecord, createdAt: number): Promise<WorkspaceRecord> {
  const created = await sql`INSERT INTO workspaces (id, account_id, created_at) VALUES (${workspace.id}, ${workspace.accountId}, ${createdAt}) ON CONFLICT DO NOTHING`;
  if (created.count === 0) return (await getWorkspace(sql, workspace.id))!;
  return workspace;
}

/** Rewrites the workspace copies of a system model by the rules' inherit; the copies are locked first, so no concurrent edit of one is lost. */
export async function inheritCopies(tx: TransactionSql, system: ModelRecord, copies: CopyRules): Promise<void> {
  const rows = await tx.unsafe<PgModelRow[]>(`SELECT ${selectModel} FROM models WHERE system_model_id = $1 FOR UPDATE`, [system.id]);
  for (const row of rows) await tx.unsafe(updateModelSql, [...modelValues(copies.inherit(system, rowToModel(row))), row.version]);
}

/** ModelStore.writeCatalog, inside the caller's transaction. */
export async function writeCatalog(
  tx: TransactionSql,
  plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[],
  copies: CopyRules,
): Promise<void> {
  const rows = await tx.unsafe<Array<PgModelRow & { shipped_digest: string | null }>>(
    `SELECT ${selectModel}, shipped_digest FROM models WHERE workspace_id IS NULL AND catalog_id IS NOT NULL`,
  );
  const shipped = new Map(rows.map((r) => [r.catalog_id!, { model: rowToModel(r), digest: r.shipped_digest }]));
  for (const write of plan(shipped)) {
    const { model } = write;
    if (write.expectedVersion !== undefined) {
      await tx.unsafe(updateModelSql, [...modelValues(model), write.expectedVersion]);
      await inheritCopies(tx, model, copies);
    } else if (write.digest !== undefined) {
      await tx.unsafe(insertModelSql, modelValues(model));
    }
    if (write.digest !== undefined) await tx`UPDATE models SET shipped_digest = ${write.digest} WHERE id = ${model.id}`;
    await tx`UPDATE models SET shipped_position = ${write.position} WHERE id = ${model.id}`;
  }
}
