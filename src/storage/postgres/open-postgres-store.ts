import type { OpenedStores } from "../opened-stores.js";
import { PgChangeLog } from "./pg-change-log.js";
import { PgDatabase, type PostgresOptions } from "./pg-database.js";
import { PgDraftStore } from "./pg-draft-store.js";
import { PgModelStore } from "./pg-model-store.js";

/** Connects to the PostgreSQL database at `options.url` and migrates it (under an advisory lock: replicas may start at once). */
export async function openPostgresStore(options: PostgresOptions): Promise<OpenedStores> {
  const db = new PgDatabase(options);
  const { store, schemaVersion } = await PgModelStore.open(db);
  const location = new URL(options.url);
  location.password = "";
  return {
    models: store,
    drafts: new PgDraftStore(db),
    changes: new PgChangeLog(db),
    system: "postgresql",
    schemaVersion,
    location: location.toString(),
    available: () => db.available,
    sizeBytes: () => db.sizeBytes(),
  };
}
