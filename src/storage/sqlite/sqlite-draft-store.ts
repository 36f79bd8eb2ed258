import type { Database, Statement } from "better-sqlite3";
import type { DraftRecord, DraftStore, DraftUpdate, DraftUpdateOutcome } from "../draft-store.js";
import { rowToDraft, type DraftRow } from "../draft-row.js";
import type { SerialWriter } from "./serial-writer.js";

/**
 * DraftStore on the better-sqlite3 connections of SqliteModelStore (table
 * model_drafts of migration 2): reads on its read connection, writes queued
 * on its writer. Every statement is prepared once, here, and reused; each
 * method is a single statement, hence atomic.
 */
export class SqliteDraftStore implements DraftStore {
  private readonly insertStmt: Statement;
  private readonly getStmt: Statement;
  private readonly updateStmt: Statement;
  private readonly existsStmt: Statement;
  private readonly listStmt: Statement;
  private readonly deleteStmt: Statement;

  constructor(
    db: Database,
    private readonly writer: SerialWriter,
  ) {
    this.insertStmt = writer.db.prepare(
      `INSERT INTO model_drafts (id, workspace_id, profile_id, base_model_id, base_etag, model, version, created_at, updated_at)
       VALUES (@id, @workspace_id, @profile_id, @base_model_id, @base_etag, @model, @version, @created_at, @updated_at)`,
    );
    this.getStmt = db.prepare("SELECT * FROM model_drafts WHERE workspace_id = ? AND profile_id = ? AND id = ?");
    // Compare-and-set: the version check and the write are one statement.
    this.updateStmt = writer.db.prepare(
      `UPDATE model_drafts SET model = @model, version = version + 1, updated_at = @updated_at
       WHERE workspace_id = @workspace_id AND profile_id = @profile_id AND id = @id AND version = @expected_version
       RETURNING *`,
    );
    this.existsStmt = writer.db.prepare("SELECT 1 FROM model_drafts WHERE workspace_id = ? AND profile_id = ? AND id = ?");
    this.listStmt = db.prepare(
      "SELECT * FROM model_drafts WHERE workspace_id = ? AND profile_id = ? ORDER BY updated_at DESC, id DESC",
    );
    this.deleteStmt = writer.db.prepare("DELETE FROM model_drafts WHERE workspace_id = ? AND profile_id = ? AND id = ?");
  }

  async insert(d: DraftRecord): Promise<void> {
    const row = {
      id: d.id,
      workspace_id: d.workspaceId,
      profile_id: d.profileId,
      base_model_id: d.baseModelId,
      base_etag: d.baseEtag,
      model: d.model,
      version: d.version,
      created_at: d.createdAt,
      updated_at: d.updatedAt,
    } satisfies DraftRow;
    await this.writer.run(() => this.insertStmt.run(row));
  }

  async get(workspaceId: string, profileId: string, id: string): Promise<DraftRecord | undefined> {
    const row = this.getStmt.get(workspaceId, profileId, id) as DraftRow | undefined;
    return row && rowToDraft(row);
  }

  async update(u: DraftUpdate): Promise<DraftUpdateOutcome> {
    return this.writer.run(() => this.updateSync(u));
  }

  private updateSync(u: DraftUpdate): DraftUpdateOutcome {
    const row = this.updateStmt.get({
      model: u.model,
      updated_at: u.updatedAt,
      workspace_id: u.workspaceId,
      profile_id: u.profileId,
      id: u.id,
      expected_version: u.expectedVersion,
    }) as DraftRow | undefined;
    if (row) return { kind: "updated", draft: rowToDraft(row) };
    // Nothing written: tell a moved version from a draft that is gone.
    return this.existsStmt.get(u.workspaceId, u.profileId, u.id) === undefined ? { kind: "missing" } : { kind: "stale" };
  }

  async list(workspaceId: string, profileId: string): Promise<DraftRecord[]> {
    return (this.listStmt.all(workspaceId, profileId) as DraftRow[]).map(rowToDraft);
  }

  async delete(workspaceId: string, profileId: string, id: string): Promise<boolean> {
    return (await this.writer.run(() => this.deleteStmt.run(workspaceId, profileId, id))).changes > 0;
  }
}
