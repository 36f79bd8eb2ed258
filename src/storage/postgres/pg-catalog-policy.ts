import { createHash } from "node:crypto";
import type { TransactionSql } from "postgres";
import type { CatalogEntryRecord, CatalogSyncResult, CopyContext, ModelRecord, WorkspaceRecord } from "../model-store.js";
import { noCredentials } from "../model-store.js";
import { insertModelSql, modelValues, rowToModel, updateModelSql, type PgModelRow } from "./pg-rows.js";
import { selectModel } from "./pg-list-query.js";

/** What a system model hands down to its copies: the spec, visibility, and what may be said of its credentials. */
const inheritedColumns = [
  "name",
  "family",
  "provider",
  "input_price_cents",
  "output_price_cents",
  "cached_input_price_cents",
  "input_price_usd",
  "output_price_usd",
  "cached_input_price_usd",
  "max_input_tokens",
  "max_output_tokens",
  "capabilities",
  "description",
  "model_url",
  "has_token",
  "has_client_key",
  "credential_fingerprint",
  "credentials_updated_at",
  "visible",
] as const;

const inheritSql = `UPDATE models AS copy SET ${inheritedColumns.map((c) => `${c} = system.${c}`).join(", ")},
  version = copy.version + 1, updated_at = system.updated_at, delete_time = system.delete_time, purge_time = system.purge_time
  FROM models AS system WHERE system.id = $1 AND copy.system_model_id = system.id`;

function digest(entry: CatalogEntryRecord): string {
  return createHash("sha256").update(JSON.stringify(entry)).digest("base64url");
}

/** A workspace's copy of a system model: its own id and status, everything else inherited. */
function copyOf(system: ModelRecord, ws: WorkspaceRecord, copy: CopyContext): ModelRecord {
  return {
    ...system,
    id: copy.newId(),
    workspaceId: ws.id,
    accountId: ws.accountId,
    bundleKey: null,
    externalId: null,
    labels: {},
    systemModelId: system.id,
    credentials: { ...system.credentials, keyId: null, blob: null },
    status: "MODEL_STATUS_ENABLED",
    version: 1,
    createdAt: copy.now,
    updatedAt: copy.now,
  };
}

/**
 * The catalog-copy policy (system models, their workspace copies, new
 * workspaces), ported as is from the SQLite store so that the PostgreSQL
 * store serves the same behaviour. It moves to src/domain/catalog with the
 * architecture work, behind the store's data primitives; this file then goes.
 */
export class PgCatalogPolicy {
  constructor(private readonly systemProfileId: string) {}

  async sync(tx: TransactionSql, entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult> {
    const result: CatalogSyncResult = { added: 0, changed: 0, copiesCreated: 0 };
    for (const [position, entry] of entries.entries()) {
      const entryDigest = digest(entry);
      const [row] = await tx.unsafe<Array<PgModelRow & { shipped_digest: string | null }>>(
        `SELECT ${selectModel}, shipped_digest FROM models WHERE workspace_id IS NULL AND catalog_id = $1 FOR UPDATE`,
        [entry.catalogId],
      );
      if (!row) {
        const system: ModelRecord = {
          id: copy.newId(),
          workspaceId: null,
          accountId: null,
          name: entry.name,
          profileId: this.systemProfileId,
          bundleKey: null,
          externalId: null,
          labels: {},
          catalogId: entry.catalogId,
          systemModelId: null,
          origin: "MODEL_ORIGIN_SYSTEM",
          visible: true,
          spec: entry.spec,
          credentials: noCredentials,
          status: null,
          version: 1,
          createdAt: copy.now,
          updatedAt: copy.now,
          deleteTime: null,
          purgeTime: null,
        };
        // Another replica syncing the same release at once added it first: nothing to do.
        const inserted = await tx.unsafe(`${insertModelSql} ON CONFLICT DO NOTHING`, modelValues(system));
        if (inserted.count === 0) continue;
        await tx.unsafe("UPDATE models SET shipped_digest = $1, shipped_position = $2 WHERE id = $3", [entryDigest, position, system.id]);
        result.added++;
        result.copiesCreated += await this.insertCopies(tx, system, copy);
        continue;
      }
      await tx.unsafe("UPDATE models SET shipped_position = $1 WHERE id = $2", [position, row.id]);
      // Only a change of the shipped entry itself is applied, so an admin's edit of the system model survives restarts of the same release.
      if (row.shipped_digest === entryDigest) continue;
      result.changed++;
      const system = { ...rowToModel(row), name: entry.name, spec: entry.spec, version: row.version + 1, updatedAt: copy.now };
      await tx.unsafe(updateModelSql, [...modelValues(system), row.version]);
      await tx.unsafe("UPDATE models SET shipped_digest = $1 WHERE id = $2", [entryDigest, row.id]);
      await tx.unsafe(inheritSql, [system.id]);
    }
    return result;
  }

  async ensureWorkspace(tx: TransactionSql, workspace: WorkspaceRecord, copy: CopyContext): Promise<WorkspaceRecord> {
    const created = await tx.unsafe("INSERT INTO workspaces (id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [
      workspace.id,
      workspace.accountId,
      copy.now,
    ]);
    if (created.count === 0) {
      const [row] = await tx.unsafe<Array<{ id: string; account_id: string }>>("SELECT id, account_id FROM workspaces WHERE id = $1", [workspace.id]);
      return { id: row!.id, accountId: row!.account_id };
    }
    const systems = await tx.unsafe<PgModelRow[]>(
      `SELECT ${selectModel} FROM models WHERE workspace_id IS NULL AND visible AND delete_time IS NULL
       ORDER BY shipped_position IS NULL, shipped_position, created_at, id`,
    );
    for (const system of systems) await tx.unsafe(insertModelSql, modelValues(copyOf(rowToModel(system), workspace, copy)));
    return workspace;
  }

  /** After a write of a system model: its copies follow it, and a visible one reaches the workspaces that have no copy yet. */
  async afterSystemWrite(tx: TransactionSql, system: ModelRecord, updated: boolean, copy: CopyContext): Promise<void> {
    if (updated) await tx.unsafe(inheritSql, [system.id]);
    if (system.visible && system.deleteTime === null) await this.insertCopies(tx, system, copy);
  }

  /** Gives every workspace that has none a copy of the system model. */
  private async insertCopies(tx: TransactionSql, system: ModelRecord, copy: CopyContext): Promise<number> {
    const without = await tx.unsafe<Array<{ id: string; account_id: string }>>(
      `SELECT id, account_id FROM workspaces w WHERE NOT EXISTS (SELECT 1 FROM models WHERE workspace_id = w.id AND system_model_id = $1)
       ORDER BY created_at, id`,
      [system.id],
    );
    for (const ws of without) {
      await tx.unsafe(`${insertModelSql} ON CONFLICT DO NOTHING`, modelValues(copyOf(system, { id: ws.id, accountId: ws.account_id }, copy)));
    }
    return without.length;
  }
}
