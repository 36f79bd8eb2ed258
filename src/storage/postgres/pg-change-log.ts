import { changeOf, type ChangeLog, type ChangeLogBounds, type ChangeRow as StoredChangeRow, type ModelChangeRecord } from "../change-log.js";
import type { ModelRecord } from "../model-store.js";
import { changesSeenBy } from "../virtual-copy.js";
import { workspaceModelsSql } from "./pg-catalog-overlay.js";
import type { PgDatabase } from "./pg-database.js";
import { prunedThroughSetting } from "./pg-model-store.js";
import { rowToModel, type PgModelRow } from "./pg-rows.js";

export type ChangeRow = StoredChangeRow<PgModelRow>;

const boundsSql = `SELECT coalesce((SELECT value::bigint FROM settings WHERE name = '${prunedThroughSetting}'), 0) AS pruned_through,
  coalesce((SELECT max(seq) FROM model_changes), 0) AS head`;

function bounds(row: { head: number; pruned_through: number }): ChangeLogBounds {
  return { head: Math.max(row.head, row.pruned_through), prunedThrough: row.pruned_through };
}

/** A model as the change-log trigger keeps it (to_jsonb of the row, without sealed credentials). */
export function snapshotModel(json: PgModelRow | null): ModelRecord | null {
  return json === null ? null : rowToModel({ ...json, credentials_key_id: null, credentials_blob: null });
}

/** A model_changes row as the change it records. */
export const changeRecordOf = (r: ChangeRow): ModelChangeRecord => changeOf(r, snapshotModel);

/**
 * ChangeLog over the model_changes table, which a trigger on models fills in
 * the transaction of every write, in commit order across replicas (see
 * pg-migrations.ts). Every replica reads the same log, so a watcher on one
 * sees the commits of all, and one that lost the database catches up from
 * its last seq when it is back. Commits are announced by NOTIFY, so readers
 * need not wait for their next poll.
 */
export class PgChangeLog implements ChangeLog {
  constructor(private readonly db: PgDatabase) {}

  async bounds(): Promise<ChangeLogBounds> {
    const [row] = await this.db.run((sql) => sql.unsafe<Array<{ head: number; pruned_through: number }>>(boundsSql));
    return bounds(row!);
  }

  async changesAfter(seq: number, limit: number): Promise<ModelChangeRecord[]> {
    const rows = await this.db.run((sql) => sql.unsafe<ChangeRow[]>("SELECT * FROM model_changes WHERE seq > $1 ORDER BY seq LIMIT $2", [seq, limit]));
    return rows.map(changeRecordOf);
  }

  async forWorkspace(workspaceId: string, changes: ModelChangeRecord[]): Promise<ModelChangeRecord[]> {
    if (!changes.some((c) => c.workspaceId === null)) return changes.filter((c) => c.workspaceId === workspaceId);
    const { workspace, rows } = await this.db.run((sql) =>
      sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
        const [ws] = await tx<Array<{ id: string; account_id: string; created_at: number }>>`
          SELECT id, account_id, created_at FROM workspaces WHERE id = ${workspaceId}`;
        const copies = await tx<Array<{ system_model_id: string }>>`
          SELECT system_model_id FROM models WHERE workspace_id = ${workspaceId} AND system_model_id IS NOT NULL`;
        return {
          workspace: ws && { id: ws.id, accountId: ws.account_id, createdAt: ws.created_at },
          rows: new Set(copies.map((c) => c.system_model_id)),
        };
      }),
    );
    return changesSeenBy(workspaceId, workspace, rows, changes);
  }

  async snapshot(workspaceId: string): Promise<{ head: number; models: ModelRecord[] }> {
    // One snapshot: the models are current at exactly the head read with them (seq grows in commit order).
    return this.db.run((sql) =>
      sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
        const [row] = await tx.unsafe<Array<{ head: number; pruned_through: number }>>(boundsSql);
        const models = await tx.unsafe<PgModelRow[]>(
          `SELECT * FROM (${workspaceModelsSql("$1")}) AS models WHERE delete_time IS NULL AND visible ORDER BY created_at, id`,
          [workspaceId],
        );
        return { head: bounds(row!).head, models: models.map((m) => rowToModel({ ...m, credentials_key_id: null, credentials_blob: null })) };
      }),
    );
  }

  /** LISTEN model_changes (the trigger notifies at each commit); the driver listens again after a reconnect and calls `listener` then too. */
  async onCommit(listener: () => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.db.run((sql) => sql.listen("model_changes", listener, listener));
    return unlisten;
  }

  async prune(before: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.unsafe<Array<{ last: number | null }>>("SELECT max(seq) AS last FROM model_changes WHERE committed_at < $1", [before]);
      const last = row!.last;
      if (last === null) return 0;
      await tx.unsafe(
        `INSERT INTO settings (name, value) VALUES ('${prunedThroughSetting}', $1)
         ON CONFLICT (name) DO UPDATE SET value = greatest(settings.value::bigint, excluded.value::bigint)::text`,
        [String(last)],
      );
      return (await tx.unsafe("DELETE FROM model_changes WHERE seq <= $1", [last])).count;
    });
  }
}
