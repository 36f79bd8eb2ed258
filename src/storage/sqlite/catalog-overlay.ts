import type Database from "better-sqlite3";
import { copyIdPrefix, copyIdSuffix } from "../catalog-copy-id.js";
import { modelColumns, type ModelRow } from "./model-row.js";

type StatementOf = (sql: string) => Database.Statement;

/**
 * The SQL of virtual-copy.ts: the columns of workspace w's virtual copy of
 * system model s. A column not named here is the system model's, so a new
 * spec column reaches the copies without a line here.
 */
const copyColumn: Partial<Record<(typeof modelColumns)[number], string>> = {
  id: "catalog_copy_id(w.id, s.id)",
  workspace_id: "w.id",
  account_id: "w.account_id",
  bundle_key: "NULL",
  external_id: "NULL",
  labels: "'{}'",
  system_model_id: "s.id",
  credentials_key_id: "NULL",
  credentials_blob: "NULL",
  status: "CASE WHEN s.lifecycle_stage = 'LIFECYCLE_STAGE_RETIRED' THEN 'MODEL_STATUS_DISABLED' ELSE 'MODEL_STATUS_ENABLED' END",
  created_at: "max(w.created_at, s.created_at)",
  updated_at: "max(w.created_at, s.updated_at)",
};
/** The generated columns (migration 6) that filters and orders read: a virtual copy has its system model's. */
const generatedColumns = [
  "lifecycle_stage",
  "price_input",
  "price_output",
  "price_cache_read",
  "price_cache_write_5m",
  "price_cache_write_1h",
  "price_reasoning_output",
  "price_audio_input",
  "price_audio_output",
  "price_image_input",
  "price_image_output",
  "price_web_search",
];
const rowColumns = [...modelColumns, ...generatedColumns].join(", ");
const copyProjection = modelColumns.map((c) => `${copyColumn[c] ?? `s.${c}`} AS ${c}`).join(", ");
const listedCopyProjection = [copyProjection, ...generatedColumns.map((c) => `s.${c} AS ${c}`)].join(", ");

/**
 * The system models that workspace @workspaceId has a virtual copy of: no
 * row of its own for them, and neither deleted nor retired (lifecycle
 * retiresAt, epoch ms) before it existed.
 */
const virtualCopiesFrom = `workspaces w JOIN models s ON s.workspace_id IS NULL
  WHERE w.id = @workspaceId AND (s.delete_time IS NULL OR s.delete_time > w.created_at)
    AND (s.lifecycle_stage IS NOT 'LIFECYCLE_STAGE_RETIRED'
      OR ifnull(unixepoch(json_extract(s.lifecycle, '$.retiresAt'), 'subsec') * 1000, 0) > w.created_at)
    AND NOT EXISTS (SELECT 1 FROM models c WHERE c.workspace_id = w.id AND c.system_model_id = s.id)`;

/**
 * The virtual copies of workspace @workspaceId as a row source: the columns
 * of a models row, and search_rowid, the full-text index row that holds the
 * copy's text (its system model's).
 */
export const virtualCopiesSql = `SELECT ${listedCopyProjection}, s.rowid AS search_rowid FROM ${virtualCopiesFrom}`;

/** Every model of workspace @workspaceId as a row source: its rows and its virtual copies. */
export const workspaceModelsSql = `SELECT ${rowColumns}, rowid AS search_rowid FROM models WHERE workspace_id = @workspaceId
  UNION ALL ${virtualCopiesSql}`;

/**
 * Registers the SQL function the copy projection uses on a connection. A
 * query projects the copies of one workspace, so the function keeps the last
 * workspace's half and every system model's half (there are few) rather than
 * hashing twice per row.
 */
export function registerCopyIdFunction(db: Database.Database): void {
  const suffixes = new Map<string, string>();
  let last = { workspaceId: "", prefix: "" };
  db.function("catalog_copy_id", { deterministic: true }, (workspaceId, systemModelId) => {
    const [ws, system] = [String(workspaceId), String(systemModelId)];
    if (last.workspaceId !== ws || last.prefix === "") last = { workspaceId: ws, prefix: copyIdPrefix(ws) };
    let suffix = suffixes.get(system);
    if (suffix === undefined) suffixes.set(system, (suffix = copyIdSuffix(system)));
    return last.prefix + suffix;
  });
}

/**
 * Workspace catalogs as overlays: reads of virtual copies by id, their
 * materialization into rows on a first write, and the uniqueness of the copy
 * ids of system models. No tombstones: a copy row is only ever purged with
 * its system model (workspaces cannot delete catalog copies), and then there
 * is no virtual copy to come back.
 */
export class CatalogOverlay {
  /** Copy id suffix -> system model id, for finding a virtual copy's system model from its id without a table. */
  private suffixes?: Map<string, string>;

  constructor(private readonly statement: StatementOf) {}

  private loadSuffixes(): Map<string, string> {
    const ids = this.statement("SELECT id FROM models WHERE workspace_id IS NULL").pluck().all() as string[];
    this.suffixes = new Map(ids.map((id) => [copyIdSuffix(id), id]));
    return this.suffixes;
  }

  /** The system model whose copy in the workspace would have this id, if any (system models of other processes included). */
  private systemModelOf(workspaceId: string, id: string): string | undefined {
    const prefix = copyIdPrefix(workspaceId);
    if (!id.startsWith(prefix)) return undefined;
    const suffix = id.slice(prefix.length);
    return (this.suffixes ?? this.loadSuffixes()).get(suffix) ?? this.loadSuffixes().get(suffix);
  }

  /** The workspace's virtual copy with this id, if it is one. */
  copy(workspaceId: string, id: string): ModelRow | undefined {
    const systemModelId = this.systemModelOf(workspaceId, id);
    if (systemModelId === undefined) return undefined;
    return this.statement(`SELECT ${copyProjection} FROM ${virtualCopiesFrom} AND s.id = @systemModelId`).get({ workspaceId, systemModelId }) as
      | ModelRow
      | undefined;
  }

  /**
   * Turns the workspace's virtual copy of the system model into a row as it
   * is (same id and version), inside the caller's write transaction, so that
   * the write that follows updates it as any row. The unique index on
   * (workspace, system model) refuses a second row. The insert itself
   * changes nothing a reader sees, so it leaves no change-log entry; the
   * write that follows does. Returns false when there is no such virtual copy.
   */
  materialize(workspaceId: string, systemModelId: string): boolean {
    const inserted = this.statement(
      `INSERT INTO models (${modelColumns.join(", ")}) SELECT ${copyProjection} FROM ${virtualCopiesFrom} AND s.id = @systemModelId`,
    ).run({ workspaceId, systemModelId }).changes;
    if (inserted === 0) return false;
    this.statement("DELETE FROM model_changes WHERE seq = (SELECT max(seq) FROM model_changes)").run();
    return true;
  }

  /** Refuses a new system model whose copy ids would collide with another's (inside the write transaction that inserts it). */
  claimSuffix(systemModelId: string): void {
    const suffixes = this.suffixes ?? this.loadSuffixes();
    const suffix = copyIdSuffix(systemModelId);
    const holder = suffixes.get(suffix) ?? this.loadSuffixes().get(suffix);
    if (holder !== undefined && holder !== systemModelId) {
      throw new Error(`system model "${systemModelId}" would give its workspace copies the ids of "${holder}"'s copies; refusing it`);
    }
    this.suffixes!.set(suffix, systemModelId);
  }
}
