import type { FieldChangeRecord, ModelRecord, ModelStore, RevisionRecord, StoredModelStatus } from "../../storage/model-store.js";
import { fieldChanges } from "../models/revision-diff.js";
import type { RefreshActor } from "./catalog-refresh.js";
import { rewriteCopies } from "./copy-rewrite.js";

const retiredStage = "LIFECYCLE_STAGE_RETIRED";

export function isRetired(m: ModelRecord): boolean {
  return m.spec.lifecycle?.stage === retiredStage;
}

/** A system model's revision that retired it or brought it back (its lifecycle stage went to or from RETIRED). */
export function isRetirementRevision(r: RevisionRecord): boolean {
  return r.changes.some((c) => c.field === "spec.lifecycle" && [c.oldValue, c.newValue].some((v) => v?.includes(`"${retiredStage}"`)));
}

/**
 * Follows a retirement (or the return of a retired model) in the workspace
 * copies of `system` that are rows: a copy ENABLED before the retirement
 * becomes DISABLED, each with its revision and change event; on the return,
 * a copy disabled only by the retirement is ENABLED again. A copy the
 * workspace disabled itself keeps its state. The revisions carry the lifecycle change the copies inherited, so
 * they say why. Virtual copies need nothing: they read as their system model
 * says (virtual-copy.ts), and their revisions are derived (retirementRevisions).
 */
export async function followRetirement(
  store: ModelStore,
  system: ModelRecord,
  lifecycleChange: FieldChangeRecord,
  actor: RefreshActor,
  at: number,
  newRevisionId: () => string,
): Promise<void> {
  const retiring = isRetired(system);
  const [from, to]: StoredModelStatus[] = retiring ? ["MODEL_STATUS_ENABLED", "MODEL_STATUS_DISABLED"] : ["MODEL_STATUS_DISABLED", "MODEL_STATUS_ENABLED"];
  await rewriteCopies(
    store,
    await store.copyRows(system.id),
    async (copy) => {
      if (copy.status !== from || (!retiring && !(await disabledByRetirement(store, copy)))) return undefined;
      const model: ModelRecord = { ...copy, status: to, version: copy.version + 1, updatedAt: at };
      return { model, changes: [lifecycleChange, ...fieldChanges(copy, model)].sort(byField) };
    },
    actor,
    at,
    newRevisionId,
  );
}

/**
 * Whether the copy is disabled only by the retirement: its last status change
 * is the retirement's, or it has none (it became a row while retired, its
 * status projected from the retirement).
 */
async function disabledByRetirement(store: ModelStore, copy: ModelRecord): Promise<boolean> {
  const { revisions } = await store.listRevisions(copy.id, Number.MAX_SAFE_INTEGER);
  const lastStatusChange = revisions.find((r) => r.changes.some((c) => c.field === "spec.status"));
  return lastStatusChange === undefined || isRetirementRevision(lastStatusChange);
}

/**
 * The revisions a catalog copy shows for retirements of its system model
 * that it did not record itself: those before the copy's first own revision
 * (all of them for a copy never written to, a virtual copy) and not before
 * the copy existed, as revisions of the copy, whose status followed
 * (virtual-copy.ts). Newest first.
 */
export async function retirementRevisions(store: ModelStore, copy: ModelRecord): Promise<RevisionRecord[]> {
  if (copy.systemModelId === null) return [];
  const system = await store.listRevisions(copy.systemModelId, Number.MAX_SAFE_INTEGER);
  const retirements = system.revisions.filter(isRetirementRevision);
  if (retirements.length === 0) return [];
  const own = await store.listRevisions(copy.id, Number.MAX_SAFE_INTEGER);
  const first = own.revisions[own.revisions.length - 1];
  const shown: RevisionRecord[] = [];
  for (const r of retirements.reverse()) {
    if (first !== undefined && r.id >= first.id) break;
    // A return shows only after a retirement the copy saw (a workspace made meanwhile just gained the model).
    const seen = retires(r) ? r.createdAt >= copy.createdAt : shown.length > 0 && retires(shown[0]!);
    if (seen) shown.unshift({ ...r, modelId: copy.id, changes: [...r.changes.filter((c) => shownFields.has(c.field)), statusChange(r)].sort(byField) });
  }
  return shown;
}

/** The fields of a system model's retirement revision that its copies show. */
const shownFields = new Set(["spec.lifecycle", "spec.disabled_reason"]);

function byField(a: FieldChangeRecord, b: FieldChangeRecord): number {
  return a.field < b.field ? -1 : a.field > b.field ? 1 : 0;
}

/** Whether a retirement revision retired the model (rather than bring it back). */
function retires(r: RevisionRecord): boolean {
  return r.changes.some((c) => c.field === "spec.lifecycle" && c.newValue?.includes(`"${retiredStage}"`) === true);
}

/** The status change of a virtual copy that a retirement (or a return) made. */
function statusChange(r: RevisionRecord): FieldChangeRecord {
  const enabled = JSON.stringify("MODEL_STATUS_ENABLED");
  const disabled = JSON.stringify("MODEL_STATUS_DISABLED");
  const retiring = retires(r);
  return { field: "spec.status", oldValue: retiring ? enabled : disabled, newValue: retiring ? disabled : enabled };
}
