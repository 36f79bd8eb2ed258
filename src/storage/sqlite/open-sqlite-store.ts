import { stat } from "node:fs/promises";
import type { OpenedStores } from "../opened-stores.js";
import { SqliteChangeLog } from "./sqlite-change-log.js";
import { SqliteDraftStore } from "./sqlite-draft-store.js";
import { SqliteModelStore } from "./sqlite-model-store.js";

async function fileBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
}

/** The bytes a SQLite database takes on disk: the file plus its write-ahead log (":memory:" counts 0). */
async function databaseBytes(path: string): Promise<number> {
  if (path === "" || path === ":memory:" || path.startsWith("file::memory:")) return 0;
  const [main, wal] = await Promise.all([fileBytes(path), fileBytes(`${path}-wal`)]);
  return main + wal;
}

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
    sizeBytes: () => databaseBytes(path),
  };
}
