import type { Database, Statement } from "better-sqlite3";
import { changeOf, type ChangeLog, type ChangeLogBounds, type ChangeRow as StoredChangeRow, type ModelChangeRecord } from "../change-log.js";
import type { ModelRecord } from "../model-store.js";
import { changesSeenBy, type CopyingWorkspace } from "../virtual-copy.js";
import { workspaceModelsSql } from "./catalog-overlay.js";
import type { SerialWriter } from "./serial-writer.js";
import { rowToModel, type ModelRow } from "./model-row.js";

export type ChangeRow = StoredChangeRow<string>;

const prunedThroughSetting = "change_log_pruned_through";

/** A model's columns as the change-log triggers keep them (json_object, without sealed credentials). */
export function snapshotModel(json: string | null): ModelRecord | null {
  if (json === null) return null;
  return rowToModel({ ...(JSON.parse(json) as ModelRow), credentials_key_id: null, credentials_blob: null });
}

/** A model_changes row as the change it records. */
export const changeRecordOf = (r: ChangeRow): ModelChangeRecord => changeOf(r, snapshotModel);

/** ChangeLog over the model_changes table, which triggers on models fill (migration 4). */
export class SqliteChangeLog implements ChangeLog {
  private readonly head: Statement;
  private readonly prunedThrough: Statement;
  private readonly after: Statement;
  private readonly liveModels: Statement;
  private readonly workspace: Statement;
  private readonly copyRows: Statement;
  private readonly deleteBefore: Statement;
  private readonly lastBefore: Statement;
  private readonly savePrunedThrough: Statement;
  private readonly prunedThroughOnWriter: Statement;

  /** Reads on `db` (the store's read connection); pruning writes through the store's `writer` queue. */
  constructor(
    private readonly db: Database,
    private readonly writer: SerialWriter,
  ) {
    // sqlite_sequence keeps the last seq even when pruning emptied the table.
    this.head = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'model_changes'").pluck();
    this.prunedThrough = db.prepare(`SELECT value FROM settings WHERE name = '${prunedThroughSetting}'`).pluck();
    this.after = db.prepare("SELECT * FROM model_changes WHERE seq > ? ORDER BY seq LIMIT ?");
    this.liveModels = db.prepare(
      `SELECT * FROM (${workspaceModelsSql}) AS models WHERE delete_time IS NULL AND visible = 1 ORDER BY created_at, id`,
    );
    this.workspace = db.prepare("SELECT id, account_id AS accountId, created_at AS createdAt FROM workspaces WHERE id = ?");
    this.copyRows = db.prepare("SELECT system_model_id FROM models WHERE workspace_id = ? AND system_model_id IS NOT NULL").pluck();
    this.lastBefore = writer.db.prepare("SELECT max(seq) FROM model_changes WHERE committed_at < ?").pluck();
    this.deleteBefore = writer.db.prepare("DELETE FROM model_changes WHERE seq <= ?");
    this.prunedThroughOnWriter = writer.db.prepare(`SELECT value FROM settings WHERE name = '${prunedThroughSetting}'`).pluck();
    this.savePrunedThrough = writer.db.prepare(
      `INSERT INTO settings (name, value) VALUES ('${prunedThroughSetting}', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    );
  }

  private boundsSync(): ChangeLogBounds {
    return { head: (this.head.get() as number | undefined) ?? 0, prunedThrough: Number(this.prunedThrough.get() ?? 0) };
  }

  async bounds(): Promise<ChangeLogBounds> {
    return this.db.transaction(() => this.boundsSync())();
  }

  async changesAfter(seq: number, limit: number): Promise<ModelChangeRecord[]> {
    return (this.after.all(seq, limit) as ChangeRow[]).map(changeRecordOf);
  }

  async forWorkspace(workspaceId: string, changes: ModelChangeRecord[]): Promise<ModelChangeRecord[]> {
    if (!changes.some((c) => c.workspaceId === null)) return changes.filter((c) => c.workspaceId === workspaceId);
    const { workspace, rows } = this.db.transaction(() => ({
      workspace: this.workspace.get(workspaceId) as CopyingWorkspace | undefined,
      rows: new Set(this.copyRows.all(workspaceId) as string[]),
    }))();
    return changesSeenBy(workspaceId, workspace, rows, changes);
  }

  async snapshot(workspaceId: string): Promise<{ head: number; models: ModelRecord[] }> {
    return this.db.transaction(() => ({
      head: this.boundsSync().head,
      models: (this.liveModels.all({ workspaceId }) as ModelRow[]).map((r) => rowToModel({ ...r, credentials_key_id: null, credentials_blob: null })),
    }))();
  }

  async prune(before: number): Promise<number> {
    return this.writer.run((): number => {
      const last = this.lastBefore.get(before) as number | null;
      if (last === null) return 0;
      this.savePrunedThrough.run(String(Math.max(last, Number(this.prunedThroughOnWriter.get() ?? 0))));
      return this.deleteBefore.run(last).changes;
    });
  }
}
