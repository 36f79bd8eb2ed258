import type { FieldChangeRecord, ModelRecord, ModelStore } from "../../storage/model-store.js";
import type { RefreshActor } from "./catalog-refresh.js";

/** Attempts per copy when a concurrent write makes the copy stale. */
const attempts = 3;

/** A copy as a refresh rewrites it, and the changes its revision records. */
export interface CopyRewrite {
  model: ModelRecord;
  changes: FieldChangeRecord[];
}

/**
 * Writes each workspace copy as `rewrite` makes it (undefined: nothing to
 * write), each with its revision by the refresh's actor, at the copy's
 * version: a copy a concurrent write made stale is read again and rewritten,
 * a few times at most, so no workspace's own write is overwritten.
 */
export async function rewriteCopies(
  store: ModelStore,
  copies: readonly ModelRecord[],
  rewrite: (copy: ModelRecord) => Promise<CopyRewrite | undefined> | CopyRewrite | undefined,
  actor: RefreshActor,
  at: number,
  newRevisionId: () => string,
): Promise<void> {
  for (const listed of copies) {
    let copy: ModelRecord | undefined = listed;
    for (let attempt = 0; copy !== undefined && attempt < attempts; attempt++) {
      const next = await rewrite(copy);
      if (next === undefined) break;
      const outcome = await store.writeModel({
        model: next.model,
        expectedVersion: copy.version,
        revision: {
          id: newRevisionId(),
          modelId: next.model.id,
          action: "REVISION_ACTION_UPDATE",
          profileId: actor.profileId,
          requestId: actor.requestId,
          changes: next.changes,
          createdAt: at,
        },
      });
      if (outcome.kind !== "stale") break;
      copy = await store.getModel(copy.workspaceId, copy.id);
    }
  }
}
