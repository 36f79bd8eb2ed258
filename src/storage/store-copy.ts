import { createHash, type Hash } from "node:crypto";
import type { ModelChangeRecord } from "./change-log.js";
import type { DraftRecord } from "./draft-store.js";
import type { IdempotencyRecord, ModelRecord, RevisionRecord, WorkspaceRecord } from "./model-store.js";

/*
 * Copying a database from one store to another as it is (`modelservice
 * migrate-store`): each table's records in the stores' own terms, read in a
 * fixed order on both sides, so that counts and checksums compare.
 */

/** One record of each table. */
export interface StoreTables {
  settings: { name: string; value: string };
  workspaces: WorkspaceRecord & { createdAt: number };
  /** System models first (their copies reference them), then by id. */
  models: { model: ModelRecord; shippedDigest: string | null; shippedPosition: number | null };
  model_revisions: RevisionRecord;
  request_ids: IdempotencyRecord;
  model_drafts: DraftRecord;
  model_changes: ModelChangeRecord;
}

export type TableName = keyof StoreTables;

/** In the order a copy writes them (a row's references first). */
export const tableNames: readonly TableName[] = ["settings", "workspaces", "models", "model_revisions", "request_ids", "model_drafts", "model_changes"];

/** What a copy reads from: every table's records in their fixed order, and where the change log stands. */
export interface StoreSource {
  records<T extends TableName>(table: T): Iterable<StoreTables[T]>;
  /** The change log's head: the seq the next change follows, kept even when pruning emptied the log. */
  changeLogHead(): number;
  close(): Promise<void>;
}

export interface TableSummary {
  rows: number;
  /** SHA-256 (hex) of the table's records in order, as canonical JSON. */
  checksum: string;
}

export type CopySummary = Record<TableName, TableSummary> & { changeLogHead: number };

/** JSON with object keys sorted and bytes as hex: equal records give equal text whatever store read them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // The value before toJSON: a Buffer (SQLite's bytes) and a Uint8Array (PostgreSQL's) alike.
    const raw = this[key];
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString("hex");
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** Counts and checksums records as they pass, table by table. */
export class TableChecksum {
  private rows = 0;
  private readonly hash: Hash = createHash("sha256");

  add(record: unknown): void {
    this.rows++;
    this.hash.update(canonical(record)).update("\n");
  }

  summary(): TableSummary {
    return { rows: this.rows, checksum: this.hash.digest("hex") };
  }
}

/** Counts and checksums every table of the source without writing anything (a dry run). */
export function summarizeSource(source: StoreSource): CopySummary {
  const summary = { changeLogHead: source.changeLogHead() } as CopySummary;
  for (const table of tableNames) {
    const sum = new TableChecksum();
    for (const record of source.records(table)) sum.add(record);
    summary[table] = sum.summary();
  }
  return summary;
}
