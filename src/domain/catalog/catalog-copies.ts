import type { CopyRules, ModelRecord, WorkspaceRecord } from "../../storage/model-store.js";

/** What making workspace copies of system models needs: ids for them, and the time they are made. */
export interface CopyContext {
  newId: () => string;
  now: number;
}

/**
 * A workspace's copy of a system model: its own id and status, everything
 * else inherited. Hidden and deleted system models get no copies.
 */
function copyOf(system: ModelRecord, workspace: WorkspaceRecord, copy: CopyContext): ModelRecord | undefined {
  if (!system.visible || system.deleteTime !== null) return undefined;
  return {
    ...system,
    id: copy.newId(),
    workspaceId: workspace.id,
    accountId: workspace.accountId,
    bundleKey: null,
    externalId: null,
    labels: {},
    systemModelId: system.id,
    spec: { ...system.spec, priceOverride: null, upstreamChanged: null },
    credentials: { ...system.credentials, keyId: null, blob: null },
    status: "MODEL_STATUS_ENABLED",
    version: 1,
    createdAt: copy.now,
    updatedAt: copy.now,
  };
}

/**
 * A copy after its system model changed: the spec, the name, visibility,
 * deletion and what may be said of the credentials follow the system model;
 * the copy keeps its id, status, labels, price override and (never copied)
 * sealed secrets.
 */
function inherit(system: ModelRecord, copy: ModelRecord): ModelRecord {
  const { hasToken, hasClientKey, fingerprint, updatedAt } = system.credentials;
  return {
    ...copy,
    name: system.name,
    // The workspace's price override, and the upstream change noted under it, stay with the copy.
    spec: { ...system.spec, priceOverride: copy.spec.priceOverride, upstreamChanged: copy.spec.upstreamChanged },
    visible: system.visible,
    credentials: { ...copy.credentials, hasToken, hasClientKey, fingerprint, updatedAt },
    version: copy.version + 1,
    updatedAt: system.updatedAt,
    deleteTime: system.deleteTime,
    purgeTime: system.purgeTime,
  };
}

/** The copy rules the store applies inside its transactions (ModelWrite.copies, writeCatalog, createWorkspace). */
export function copyRules(copy: CopyContext): CopyRules {
  return { copyOf: (system, workspace) => copyOf(system, workspace, copy), inherit };
}
