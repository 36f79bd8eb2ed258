import type { CopyRules, ModelRecord } from "../../storage/model-store.js";

/**
 * A copy after its system model changed: the spec, the name, visibility,
 * deletion and what may be said of the credentials follow the system model;
 * the copy keeps its id, status, labels, price override (and the upstream
 * change noted under it) and (never copied) sealed secrets.
 */
function inherit(system: ModelRecord, copy: ModelRecord): ModelRecord {
  const { hasToken, hasClientKey, fingerprint, updatedAt } = system.credentials;
  return {
    ...copy,
    name: system.name,
    spec: { ...system.spec, priceOverride: copy.spec.priceOverride, upstreamChanged: copy.spec.upstreamChanged },
    visible: system.visible,
    credentials: { ...copy.credentials, hasToken, hasClientKey, fingerprint, updatedAt },
    version: copy.version + 1,
    updatedAt: system.updatedAt,
    deleteTime: system.deleteTime,
    purgeTime: system.purgeTime,
  };
}

/** The copy rules the store applies inside its transactions (ModelWrite.copies, writeCatalog). */
export const copyRules: CopyRules = { inherit };
