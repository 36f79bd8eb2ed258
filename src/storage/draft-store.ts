/** A model draft as stored: its author, the model it edits, and the content as proto JSON. */
export interface DraftRecord {
  /** "draft_<ULID>". */
  id: string;
  workspaceId: string;
  /** The author: only this profile sees the draft. */
  profileId: string;
  /** The model the draft edits; null for a new model. */
  baseModelId: string | null;
  /** The etag of the base model when the draft was made; null for a new model. */
  baseEtag: string | null;
  /** The draft content: a modelservice.v1.Model as proto JSON text (never credentials). */
  model: string;
  /** 1 on creation, +1 on every change. */
  version: number;
  /** Unix epoch milliseconds. */
  createdAt: number;
  updatedAt: number;
}

/** One compare-and-set change of a draft's content. */
export interface DraftUpdate {
  workspaceId: string;
  profileId: string;
  id: string;
  /** The version the change is based on; the write happens only if it is still current. */
  expectedVersion: number;
  /** The new content (proto JSON text). */
  model: string;
  /** Unix epoch milliseconds. */
  updatedAt: number;
}

export type DraftUpdateOutcome =
  | { kind: "updated"; draft: DraftRecord }
  /** The draft's version is no longer expectedVersion; nothing was written. */
  | { kind: "stale" }
  /** No such draft of this author in the workspace. */
  | { kind: "missing" };

/**
 * Storage of model drafts. Every lookup is by workspace and author: another
 * profile's draft is as good as absent. Async like ModelStore, so adapters
 * with asynchronous drivers fit behind it.
 */
export interface DraftStore {
  insert(draft: DraftRecord): Promise<void>;
  get(workspaceId: string, profileId: string, id: string): Promise<DraftRecord | undefined>;
  /** Writes the new content and version + 1 in one statement, only while the version is still the expected one. */
  update(update: DraftUpdate): Promise<DraftUpdateOutcome>;
  /** The author's drafts in the workspace, most recently changed first. */
  list(workspaceId: string, profileId: string): Promise<DraftRecord[]>;
  /** Removes the draft; false when there was none. */
  delete(workspaceId: string, profileId: string, id: string): Promise<boolean>;
}
