import type { Config } from "./config.js";
import type { OpenedStores } from "./storage/opened-stores.js";
import { openPostgresStore } from "./storage/postgres/open-postgres-store.js";
import { openSqliteStore } from "./storage/sqlite/open-sqlite-store.js";

/**
 * The store the settings choose: a postgres:// URL in MODELSERVICE_DB is
 * PostgreSQL (several replicas on one database), anything else the SQLite
 * file. The service and the operator commands (migrate, rotate-keys) open it here.
 */
export async function openStores(config: Config): Promise<OpenedStores> {
  if (config.postgresUrl === undefined) return openSqliteStore(config.databasePath);
  return openPostgresStore({
    url: config.postgresUrl,
    poolSize: config.pgPoolSize,
    statementTimeoutMs: config.pgStatementTimeoutMs,
    connectTimeoutMs: config.pgConnectTimeoutMs,
  });
}
