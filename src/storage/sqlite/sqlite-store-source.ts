import type { IdempotencyRecord, RevisionRecord } from "../model-store.js";
import type { StoreSource, StoreTables, TableName } from "../store-copy.js";
import { rowToModel, type ModelRow } from "./model-row.js";
import { changeRecordOf } from "./sqlite-change-log.js";
import { rowToDraft, type DraftRow } from "../draft-row.js";
import { SqliteModelStore } from "./sqlite-model-store.js";

/** Each table's query, in the order StoreTables gives, and its row as a record. */
const tables: { [T in TableName]: { sql: string; record(row: never): StoreTables[T] } } = {
  settings: { sql: "SELECT name, value FROM settings ORDER BY name", record: (r: { name: string; value: string }) => r },
  workspaces: {
    sql: "SELECT id, account_id, created_at FROM workspaces ORDER BY id",
    record: (r: { id: string; account_id: string; created_at: number }) => ({ id: r.id, accountId: r.account_id, createdAt: r.created_at }),
  },
  models: {
    sql: "SELECT * FROM models ORDER BY workspace_id IS NOT NULL, id",
    record: (r: ModelRow & { shipped_digest: string | null; shipped_position: number | null }) => ({
      model: rowToModel(r),
      shippedDigest: r.shipped_digest,
      shippedPosition: r.shipped_position,
    }),
  },
  model_revisions: {
    sql: "SELECT * FROM model_revisions ORDER BY id",
    record: (r: { id: string; model_id: string; action: string; profile_id: string; request_id: string; changes: string; created_at: number }) =>
      ({
        id: r.id,
        modelId: r.model_id,
        action: r.action,
        profileId: r.profile_id,
        requestId: r.request_id,
        changes: JSON.parse(r.changes),
        createdAt: r.created_at,
      }) as RevisionRecord,
  },
  request_ids: {
    sql: "SELECT * FROM request_ids ORDER BY scope, request_id",
    record: (r: { scope: string; request_id: string; request_hash: string; model_id: string; created_at: number }): IdempotencyRecord => ({
      scope: r.scope,
      requestId: r.request_id,
      requestHash: r.request_hash,
      modelId: r.model_id,
      createdAt: r.created_at,
    }),
  },
  model_drafts: { sql: "SELECT * FROM model_drafts ORDER BY id", record: (r: DraftRow) => rowToDraft(r) },
  model_changes: {
    sql: "SELECT * FROM model_changes ORDER BY seq",
    record: changeRecordOf,
  },
};

/**
 * The SQLite database at `path` as the source of a copy (migrated first, as
 * the service would), read in one transaction so that every table is of the
 * same moment; rows are read one at a time.
 */
export function sqliteStoreSource(path: string): StoreSource {
  const store = new SqliteModelStore({ path });
  const db = store.db;
  db.exec("BEGIN");
  return {
    *records<T extends TableName>(table: T): Iterable<StoreTables[T]> {
      const { sql, record } = tables[table];
      for (const row of db.prepare(sql).iterate()) yield (record as (row: unknown) => StoreTables[T])(row);
    },
    changeLogHead() {
      const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'model_changes'").pluck().get() as number | undefined;
      const pruned = db.prepare("SELECT value FROM settings WHERE name = 'change_log_pruned_through'").pluck().get() as string | undefined;
      return Math.max(seq ?? 0, Number(pruned ?? 0));
    },
    async close() {
      db.exec("ROLLBACK");
      await store.close();
    },
  };
}
