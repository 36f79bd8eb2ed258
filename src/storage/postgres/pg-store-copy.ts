import type { TransactionSql } from "postgres";
import type { ModelRecord } from "../model-store.js";
import { TableChecksum, tableNames, type CopySummary, type StoreSource, type StoreTables, type TableName } from "../store-copy.js";
import { changeRecordOf, type ChangeRow } from "./pg-change-log.js";
import type { PgDatabase } from "./pg-database.js";
import { rowToDraft, type DraftRow } from "../draft-row.js";
import { selectModel } from "./pg-list-query.js";
import { insertModelSql, modelColumns, modelValues, rowToModel, type PgModelRow, type PgParam } from "./pg-rows.js";

/** A model as the change-log trigger snapshots it: its columns without the sealed credentials. */
function snapshotJson(model: ModelRecord | null): PgParam {
  if (model === null) return null;
  const values = modelValues(model);
  return Object.fromEntries(
    modelColumns.map((c, i) => [c, values[i]] as const).filter(([c]) => c !== "credentials_key_id" && c !== "credentials_blob"),
  ) as PgParam;
}

/** How each table's record is written. */
const writers: { [T in TableName]: (tx: TransactionSql, r: StoreTables[T]) => Promise<unknown> } = {
  settings: (tx, r) => tx`INSERT INTO settings (name, value) VALUES (${r.name}, ${r.value})`,
  workspaces: (tx, r) => tx`INSERT INTO workspaces (id, account_id, created_at) VALUES (${r.id}, ${r.accountId}, ${r.createdAt})`,
  async models(tx, r) {
    await tx.unsafe(insertModelSql, modelValues(r.model));
    if (r.shippedDigest !== null || r.shippedPosition !== null) {
      await tx`UPDATE models SET shipped_digest = ${r.shippedDigest}, shipped_position = ${r.shippedPosition} WHERE id = ${r.model.id}`;
    }
  },
  model_revisions: (tx, r) =>
    tx.unsafe("INSERT INTO model_revisions (id, model_id, action, profile_id, request_id, changes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
      r.id,
      r.modelId,
      r.action,
      r.profileId,
      r.requestId,
      r.changes as unknown as PgParam,
      r.createdAt,
    ]),
  request_ids: (tx, r) =>
    tx`INSERT INTO request_ids (scope, request_id, request_hash, model_id, created_at) VALUES (${r.scope}, ${r.requestId}, ${r.requestHash}, ${r.modelId}, ${r.createdAt})`,
  model_drafts: (tx, r) =>
    tx`INSERT INTO model_drafts (id, workspace_id, profile_id, base_model_id, base_etag, model, version, created_at, updated_at)
       VALUES (${r.id}, ${r.workspaceId}, ${r.profileId}, ${r.baseModelId}, ${r.baseEtag}, ${r.model}, ${r.version}, ${r.createdAt}, ${r.updatedAt})`,
  model_changes: (tx, r) =>
    tx.unsafe("INSERT INTO model_changes (seq, workspace_id, model_id, before, after, committed_at) VALUES ($1, $2, $3, $4, $5, $6)", [
      r.seq,
      r.workspaceId,
      r.modelId,
      snapshotJson(r.before),
      snapshotJson(r.after),
      r.committedAt,
    ]),
};

type RevisionRow = { id: string; model_id: string; action: string; profile_id: string; request_id: string; changes: unknown; created_at: number };
type ShippedRow = PgModelRow & { shipped_digest: string | null; shipped_position: number | null };

/** How each table is read back, in the order the source gives. */
const readers: { [T in TableName]: (tx: TransactionSql) => Promise<Array<StoreTables[T]>> } = {
  settings: async (tx) => [...(await tx<Array<{ name: string; value: string }>>`SELECT name, value FROM settings ORDER BY name`)],
  workspaces: async (tx) =>
    (await tx<Array<{ id: string; account_id: string; created_at: number }>>`SELECT id, account_id, created_at FROM workspaces ORDER BY id`).map((r) => ({
      id: r.id,
      accountId: r.account_id,
      createdAt: r.created_at,
    })),
  models: async (tx) =>
    (await tx.unsafe<ShippedRow[]>(`SELECT ${selectModel}, shipped_digest, shipped_position FROM models ORDER BY workspace_id IS NOT NULL, id`)).map((r) => ({
      model: rowToModel(r),
      shippedDigest: r.shipped_digest,
      shippedPosition: r.shipped_position,
    })),
  model_revisions: async (tx) =>
    (await tx<RevisionRow[]>`SELECT * FROM model_revisions ORDER BY id`).map((r) => ({
      id: r.id,
      modelId: r.model_id,
      action: r.action,
      profileId: r.profile_id,
      requestId: r.request_id,
      changes: r.changes as StoreTables["model_revisions"]["changes"],
      createdAt: r.created_at,
    })),
  request_ids: async (tx) =>
    (await tx<Array<{ scope: string; request_id: string; request_hash: string; model_id: string; created_at: number }>>`SELECT * FROM request_ids ORDER BY scope, request_id`).map(
      (r) => ({ scope: r.scope, requestId: r.request_id, requestHash: r.request_hash, modelId: r.model_id, createdAt: r.created_at }),
    ),
  model_drafts: async (tx) => (await tx<DraftRow[]>`SELECT * FROM model_drafts ORDER BY id`).map(rowToDraft),
  model_changes: async (tx) =>
    (await tx<ChangeRow[]>`SELECT * FROM model_changes ORDER BY seq`).map(changeRecordOf),
};

/** The target holds data already, or the copy did not read back as the source: nothing was written. */
export class CopyRefused extends Error {}

/**
 * Copies every table of `source` into the (migrated, empty) PostgreSQL
 * database as it is, in one transaction: ids, versions, revisions, sealed
 * credentials, drafts, request ids and the change log with its position (the
 * change-log trigger is off meanwhile, so the copy adds no changes). Reads
 * every table back before committing; a count or checksum that differs from
 * the source's rolls everything back.
 */
export async function copyIntoPostgres(db: PgDatabase, source: StoreSource): Promise<{ source: CopySummary; target: CopySummary }> {
  return db.transaction(async (tx) => {
    const [held] = await tx<Array<{ rows: number }>>`
      SELECT (SELECT count(*) FROM settings) + (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM models) AS rows`;
    if (held!.rows > 0) throw new CopyRefused("the target database is not empty: migrate-store copies into a new database only");
    const copied = { changeLogHead: source.changeLogHead() } as CopySummary;
    await tx`ALTER TABLE models DISABLE TRIGGER model_changes`;
    for (const table of tableNames) {
      const sum = new TableChecksum();
      const write = writers[table] as (tx: TransactionSql, r: unknown) => Promise<unknown>;
      for (const record of source.records(table)) {
        sum.add(record);
        await write(tx, record);
      }
      copied[table] = sum.summary();
    }
    await tx`ALTER TABLE models ENABLE TRIGGER model_changes`;
    if (copied.changeLogHead > 0) await tx`SELECT setval(pg_get_serial_sequence('model_changes', 'seq'), ${copied.changeLogHead})`;

    const [position] = await tx<Array<{ head: number }>>`
      SELECT greatest((SELECT max(seq) FROM model_changes), (SELECT last_value FROM model_changes_seq_seq WHERE is_called), 0) AS head`;
    const read = { changeLogHead: position!.head } as CopySummary;
    for (const table of tableNames) {
      const sum = new TableChecksum();
      for (const record of await readers[table](tx)) sum.add(record);
      read[table] = sum.summary();
    }
    const differs = tableNames.filter((t) => copied[t].rows !== read[t].rows || copied[t].checksum !== read[t].checksum);
    if (read.changeLogHead !== copied.changeLogHead) differs.push("model_changes");
    if (differs.length > 0) throw new CopyRefused(`the copy does not read back as the source (${differs.join(", ")}): nothing was written`);
    return { source: copied, target: read };
  });
}
