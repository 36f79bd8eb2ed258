import { catalogCopyId } from "./catalog-copy-id.js";
import type { ModelChangeRecord } from "./change-log.js";
import type { ModelRecord } from "./model-store.js";

/** What a workspace's virtual copies depend on. */
export interface CopyingWorkspace {
  id: string;
  accountId: string;
  /** Unix epoch milliseconds. */
  createdAt: number;
}

/** When a retired system model retired (epoch ms): its lifecycle's retiresAt, 0 when it has none. */
function retiredAt(system: ModelRecord): number {
  const at = system.spec.lifecycle?.retiresAt;
  const ms = typeof at === "string" ? Date.parse(at) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * A workspace's catalog copy of a system model while the workspace has no
 * row for it (a virtual copy): every store serves it, in lists, reads and
 * the change log, exactly as this projection says. The copy has its derived
 * id, the workspace's account, status ENABLED, no labels, bundle or external
 * id, no sealed secrets, and everything else from the system model,
 * including its version (so an etag keeps comparing when a write turns the
 * copy into a row). A system model deleted before the workspace existed has
 * no copy there, as it got none when copies were rows. A retired one
 * (lifecycle stage RETIRED) is DISABLED, and has no copy in a workspace made
 * at or after its retiresAt (a missing date: since always).
 */
export function virtualCopy(system: ModelRecord, workspace: CopyingWorkspace): ModelRecord | undefined {
  if (system.deleteTime !== null && system.deleteTime <= workspace.createdAt) return undefined;
  const retired = system.spec.lifecycle?.stage === "LIFECYCLE_STAGE_RETIRED";
  if (retired && retiredAt(system) <= workspace.createdAt) return undefined;
  return {
    ...system,
    id: catalogCopyId(workspace.id, system.id),
    workspaceId: workspace.id,
    accountId: workspace.accountId,
    bundleKey: null,
    externalId: null,
    labels: {},
    systemModelId: system.id,
    credentials: { ...system.credentials, keyId: null, blob: null },
    status: retired ? "MODEL_STATUS_DISABLED" : "MODEL_STATUS_ENABLED",
    createdAt: Math.max(workspace.createdAt, system.createdAt),
    updatedAt: Math.max(workspace.createdAt, system.updatedAt),
  };
}

/**
 * ChangeLog.forWorkspace over what a store read at one instant: the
 * workspace (undefined: it does not exist) and the system models it has copy
 * rows of. Its own changes pass; a system model's change is the change of
 * the workspace's virtual copy, under the copy's id.
 */
export function changesSeenBy(
  workspaceId: string,
  workspace: CopyingWorkspace | undefined,
  copyRows: Set<string>,
  changes: ModelChangeRecord[],
): ModelChangeRecord[] {
  if (!workspace) return [];
  // A copy row of the page (one purged since) shadows its system model's changes as well.
  for (const c of changes) if (c.workspaceId === workspaceId && c.before?.systemModelId) copyRows.add(c.before.systemModelId);
  const seen: ModelChangeRecord[] = [];
  for (const change of changes) {
    if (change.workspaceId === workspaceId) seen.push(change);
    if (change.workspaceId !== null || copyRows.has(change.modelId)) continue;
    const before = change.before && (virtualCopy(change.before, workspace) ?? null);
    const after = change.after && (virtualCopy(change.after, workspace) ?? null);
    if (before === null && after === null) continue;
    seen.push({ ...change, workspaceId, modelId: (before ?? after)!.id, before, after });
  }
  return seen;
}
