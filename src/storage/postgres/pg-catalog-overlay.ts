import type { TransactionSql } from "postgres";
import { computedColumns } from "./pg-migrations.js";
import { modelColumns } from "./pg-rows.js";

/**
 * The SQL of virtual-copy.ts on PostgreSQL: the columns of workspace w's
 * virtual copy of system model s (the PostgreSQL twin of the SQLite store's
 * catalog-overlay.ts). A column not named here is the system model's, so a
 * new spec column reaches the copies without a line here. Typed, so that a
 * union with rows of the table matches.
 */
const copyColumn: Partial<Record<(typeof modelColumns)[number], string>> = {
  id: "w.copy_id_prefix || s.copy_id_suffix",
  workspace_id: "w.id",
  account_id: "w.account_id",
  bundle_key: "NULL::text",
  external_id: "NULL::text",
  labels: "'{}'::json",
  system_model_id: "s.id",
  credentials_key_id: "NULL::text",
  credentials_blob: "NULL::bytea",
  status: "CASE WHEN s.lifecycle_stage = 'LIFECYCLE_STAGE_RETIRED' THEN 'MODEL_STATUS_DISABLED' ELSE 'MODEL_STATUS_ENABLED' END",
  created_at: "greatest(w.created_at, s.created_at)",
  updated_at: "greatest(w.created_at, s.updated_at)",
};
const copyProjection = modelColumns.map((c) => `${copyColumn[c] ?? `s.${c}`} AS ${c}`).join(", ");

/**
 * The system models that workspace `workspace` (a parameter placeholder)
 * has a virtual copy of: no row of its own for them, and neither deleted nor
 * retired (lifecycle retiresAt, in whole epoch ms as Date.parse reads it)
 * before it existed.
 */
function virtualCopiesFrom(workspace: string): string {
  return `workspaces w JOIN models s ON s.workspace_id IS NULL
    WHERE w.id = ${workspace} AND (s.delete_time IS NULL OR s.delete_time > w.created_at)
      AND (s.lifecycle_stage IS DISTINCT FROM 'LIFECYCLE_STAGE_RETIRED'
        OR coalesce(floor(extract(epoch FROM (s.lifecycle->>'retiresAt')::timestamptz) * 1000), 0) > w.created_at)
      AND NOT EXISTS (SELECT 1 FROM models c WHERE c.workspace_id = w.id AND c.system_model_id = s.id)`;
}

/**
 * The virtual copies of a workspace as a row source with the columns a list
 * reads: the model's, its search vector and the computed columns (its system
 * model's).
 */
export function virtualCopiesSql(workspace: string): string {
  return `SELECT ${copyProjection}, s.search, ${computedColumns.map((c) => `s.${c}`).join(", ")} FROM ${virtualCopiesFrom(workspace)}`;
}

/** Every model of a workspace, rows and virtual copies, with the columns of `modelColumns`. */
export function workspaceModelsSql(workspace: string): string {
  return `SELECT ${modelColumns.join(", ")} FROM models WHERE workspace_id = ${workspace}
    UNION ALL SELECT ${copyProjection} FROM ${virtualCopiesFrom(workspace)}`;
}

/** The workspace's ($1) model with id $2: its row, or its virtual copy with that id. */
export const workspaceModelSql = `SELECT ${modelColumns.join(", ")} FROM models WHERE workspace_id = $1 AND id = $2
  UNION ALL SELECT ${copyProjection} FROM ${virtualCopiesFrom("$1")}
    AND w.copy_id_prefix = left($2, length(w.copy_id_prefix)) AND s.copy_id_suffix = substr($2, length(w.copy_id_prefix) + 1)`;

/**
 * Turns the workspace's virtual copy of the system model into a row as it is
 * (same id and version), inside the caller's write transaction, so that the
 * write that follows updates it as any row. The system model's row is
 * locked first (shared): a concurrent write of it commits before the copy is
 * made from it (and the copy row then follows it by the copy rules) or
 * waits for this transaction. Two transactions materializing the same copy
 * make one row: the second's insert waits on the unique keys (id, and
 * workspace with system model) and then does nothing. The insert records no
 * change (the change-log trigger skips copy inserts: readers saw the copy
 * already); the write that follows does.
 */
export async function materialize(tx: TransactionSql, workspaceId: string, systemModelId: string): Promise<void> {
  await tx`SELECT 1 FROM models WHERE id = ${systemModelId} FOR SHARE`;
  await tx.unsafe(
    `INSERT INTO models (${modelColumns.join(", ")}) SELECT ${copyProjection} FROM ${virtualCopiesFrom("$1")} AND s.id = $2 ON CONFLICT DO NOTHING`,
    [workspaceId, systemModelId],
  );
}
