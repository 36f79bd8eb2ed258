import type { OpenedStores } from "../opened-stores.js";
import { SqliteChangeLog } from "./sqlite-change-log.js";
import { SqliteDraftStore } from "./sqlite-draft-store.js";
import { SqliteModelStore } from "./sqlite-model-store.js";

/** Opens (and migrates) the SQLite database at `path` (":memory:" for none on disk). */
export function openSqliteStore(path: string): OpenedStores {
  const models = new SqliteModelStore({ path });
  return {
    models,
    drafts: new SqliteDraftStore(models.db, models.writer),
    changes: new SqliteChangeLog(models.db, models.writer),
    system: "sqlite",
    schemaVersion: models.db.pragma("user_version", { simple: true }) as number,
    location: path,
    available: () => true,
  };
}
