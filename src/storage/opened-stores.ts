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
  /** The database's size on disk, where it is not a file at the configured path (the metrics read that file otherwise). */
  databaseSize?: () => Promise<number>;
}
