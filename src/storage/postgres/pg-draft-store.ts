import type { DraftRecord, DraftStore, DraftUpdate, DraftUpdateOutcome } from "../draft-store.js";
import { rowToDraft, type DraftRow } from "../draft-row.js";
import type { PgDatabase } from "./pg-database.js";

/** DraftStore on the PostgreSQL store's pool (table model_drafts); each method is one statement, hence atomic. */
export class PgDraftStore implements DraftStore {
  constructor(private readonly db: PgDatabase) {}

  async insert(d: DraftRecord): Promise<void> {
    await this.db.run((sql) =>
      sql.unsafe(
        `INSERT INTO model_drafts (id, workspace_id, profile_id, base_model_id, base_etag, model, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [d.id, d.workspaceId, d.profileId, d.baseModelId, d.baseEtag, d.model, d.version, d.createdAt, d.updatedAt],
      ),
    );
  }

  async get(workspaceId: string, profileId: string, id: string): Promise<DraftRecord | undefined> {
    const [row] = await this.db.run((sql) =>
      sql.unsafe<DraftRow[]>("SELECT * FROM model_drafts WHERE workspace_id = $1 AND profile_id = $2 AND id = $3", [workspaceId, profileId, id]),
    );
    return row && rowToDraft(row);
  }

  async update(u: DraftUpdate): Promise<DraftUpdateOutcome> {
    return this.db.run(async (sql) => {
      // Compare-and-set: the version check and the write are one statement.
      const [row] = await sql.unsafe<DraftRow[]>(
        `UPDATE model_drafts SET model = $1, version = version + 1, updated_at = $2
         WHERE workspace_id = $3 AND profile_id = $4 AND id = $5 AND version = $6 RETURNING *`,
        [u.model, u.updatedAt, u.workspaceId, u.profileId, u.id, u.expectedVersion],
      );
      if (row) return { kind: "updated", draft: rowToDraft(row) };
      // Nothing written: tell a moved version from a draft that is gone.
      const exists = await sql.unsafe("SELECT 1 FROM model_drafts WHERE workspace_id = $1 AND profile_id = $2 AND id = $3", [u.workspaceId, u.profileId, u.id]);
      return exists.length === 0 ? { kind: "missing" } : { kind: "stale" };
    });
  }

  async list(workspaceId: string, profileId: string): Promise<DraftRecord[]> {
    const rows = await this.db.run((sql) =>
      sql.unsafe<DraftRow[]>("SELECT * FROM model_drafts WHERE workspace_id = $1 AND profile_id = $2 ORDER BY updated_at DESC, id DESC", [workspaceId, profileId]),
    );
    return rows.map(rowToDraft);
  }

  async delete(workspaceId: string, profileId: string, id: string): Promise<boolean> {
    const result = await this.db.run((sql) => sql.unsafe("DELETE FROM model_drafts WHERE workspace_id = $1 AND profile_id = $2 AND id = $3", [workspaceId, profileId, id]));
    return result.count > 0;
  }
}
