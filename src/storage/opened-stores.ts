import type { ChangeLog } from "./change-log.js";
import type { DraftStore } from "./draft-store.js";
import type { ModelStore } from "./model-store.js";

/** The stores of one database, sharing its connections: what every adapter's open<Name>Store returns. */
export interface OpenedStores {
  models: ModelStore;
  drafts: DraftStore;
  changes: ChangeLog;
  /** The database system's name for telemetry (OpenTelemetry's db.system.name). */
  system: string;
  /** The schema version the database is at once migrated. */
  schemaVersion: number;
  /** Where the data is, for logs and operators: a file path, or a URL without its password. */
  location: string;
  /** False while the database cannot be reached (/readyz answers 503). */
  available(): boolean;
  /** The bytes the database takes on disk (NaN while it cannot be measured, so /metrics stays up). */
  sizeBytes(): Promise<number>;
}
