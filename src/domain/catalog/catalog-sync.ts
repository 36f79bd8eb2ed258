import { createHash } from "node:crypto";
import { noCredentials, type CatalogEntryRecord, type ModelRecord, type ModelStore, type ShippedModel, type ShippedWrite } from "../../storage/model-store.js";
import { copyRules } from "./catalog-copies.js";

/** What writing new system models needs: ids for them, and the time they are made. */
export interface CopyContext {
  newId: () => string;
  now: number;
}

/** The profile id recorded as creator of the shipped platform catalog. */
export const systemProfileId = "profile_system";

export interface CatalogSyncResult {
  added: number;
  changed: number;
  /** Copy rows created: always 0, since workspace catalogs are overlays (no rows per workspace). */
  copiesCreated: number;
}

function digest(entry: CatalogEntryRecord): string {
  return createHash("sha256").update(JSON.stringify(entry)).digest("base64url");
}

function newSystemModel(entry: CatalogEntryRecord, copy: CopyContext): ModelRecord {
  return {
    id: copy.newId(),
    workspaceId: null,
    accountId: null,
    name: entry.name,
    profileId: systemProfileId,
    bundleKey: null,
    externalId: null,
    labels: {},
    catalogId: entry.catalogId,
    systemModelId: null,
    origin: "MODEL_ORIGIN_SYSTEM",
    visible: true,
    spec: entry.spec,
    credentials: noCredentials,
    status: null,
    version: 1,
    createdAt: copy.now,
    updatedAt: copy.now,
    deleteTime: null,
    purgeTime: null,
  };
}

/**
 * Brings the shipped system models up to date with the catalog of this
 * release, in one transaction: new entries become system models (which
 * every workspace sees as a virtual copy); an entry whose content changed
 * since it was last shipped updates its system model and the copies that are rows. Only a change of the
 * shipped entry itself is applied, so an admin's edit of a system model
 * survives restarts of the same release.
 */
export async function syncCatalog(store: ModelStore, entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult> {
  let planned: ShippedWrite[] = [];
  const plan = (shipped: ReadonlyMap<string, ShippedModel>): ShippedWrite[] =>
    (planned = entries.map((entry, position): ShippedWrite => {
      const entryDigest = digest(entry);
      const found = shipped.get(entry.catalogId);
      if (!found) return { position, digest: entryDigest, model: newSystemModel(entry, copy) };
      const { model } = found;
      if (found.digest === entryDigest) return { position, model };
      const next = { ...model, name: entry.name, spec: entry.spec, version: model.version + 1, updatedAt: copy.now };
      return { position, digest: entryDigest, model: next, expectedVersion: model.version };
    }));
  await store.writeCatalog(plan, copyRules);
  return {
    added: planned.filter((w) => w.digest !== undefined && w.expectedVersion === undefined).length,
    changed: planned.filter((w) => w.expectedVersion !== undefined).length,
    copiesCreated: 0,
  };
}
