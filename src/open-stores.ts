import type { Config } from "./config.js";
import type { ChangeLog } from "./storage/change-log.js";
import type { DraftStore } from "./storage/draft-store.js";
import type { ModelStore } from "./storage/model-store.js";
import { PgChangeLog } from "./storage/postgres/pg-change-log.js";
import { PgDatabase } from "./storage/postgres/pg-database.js";
import { PgDraftStore } from "./storage/postgres/pg-draft-store.js";
import { PgModelStore } from "./storage/postgres/pg-model-store.js";
import { SqliteChangeLog } from "./storage/sqlite/sqlite-change-log.js";
import { SqliteDraftStore } from "./storage/sqlite/sqlite-draft-store.js";
import { SqliteModelStore } from "./storage/sqlite/sqlite-model-store.js";

/** The stores of one process, on one database. */
export interface Stores {
  store: ModelStore;
  drafts: DraftStore;
  changes: ChangeLog;
  /** The OpenTelemetry db.system.name. */
  system: "sqlite" | "postgresql";
  /** Where the data is, for logs: a file path, or the URL without its password. */
  location: string;
  /** False while the database cannot be reached (/readyz answers 503). */
  available(): boolean;
  /** The database's size on disk, where it is not the SQLite file. */
  databaseSize?: () => Promise<number>;
}

/** A postgres:// URL in MODELSERVICE_DB selects the PostgreSQL store (several replicas on one database); anything else SQLite. */
export async function openStores(config: Config, systemProfileId: string): Promise<Stores> {
  if (config.postgresUrl !== undefined) {
    const db = new PgDatabase({
      url: config.postgresUrl,
      poolSize: config.pgPoolSize,
      statementTimeoutMs: config.pgStatementTimeoutMs,
      connectTimeoutMs: config.pgConnectTimeoutMs,
    });
    const location = new URL(config.postgresUrl);
    location.password = "";
    return {
      store: await PgModelStore.open(db, systemProfileId),
      drafts: new PgDraftStore(db),
      changes: new PgChangeLog(db),
      system: "postgresql",
      location: location.toString(),
      available: () => db.available,
      databaseSize: () => db.sizeBytes(),
    };
  }
  const sqlite = new SqliteModelStore({ path: config.databasePath, systemProfileId });
  return {
    store: sqlite,
    drafts: new SqliteDraftStore(sqlite.db, sqlite.writer),
    changes: new SqliteChangeLog(sqlite.db, sqlite.writer),
    system: "sqlite",
    location: config.databasePath,
    available: () => true,
  };
}
