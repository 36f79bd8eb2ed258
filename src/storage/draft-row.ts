import type { DraftRecord } from "./draft-store.js";

/** A model_drafts row, the same in every adapter's schema. */
export interface DraftRow {
  id: string;
  workspace_id: string;
  profile_id: string;
  base_model_id: string | null;
  base_etag: string | null;
  model: string;
  version: number;
  created_at: number;
  updated_at: number;
}

export function rowToDraft(r: DraftRow): DraftRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    profileId: r.profile_id,
    baseModelId: r.base_model_id,
    baseEtag: r.base_etag,
    model: r.model,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
