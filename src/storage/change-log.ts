import type { ModelRecord } from "./model-store.js";

/** One committed change of a model: its state before and after (null: it did not or no longer exists). */
export interface ModelChangeRecord {
  /** Position in commit order; every later commit has a larger one. */
  seq: number;
  /** null for a system model. */
  workspaceId: string | null;
  modelId: string;
  /** Without sealed credentials (keyId and blob are null). */
  before: ModelRecord | null;
  after: ModelRecord | null;
  /** Unix epoch milliseconds. */
  committedAt: number;
}

/** A model_changes row as an adapter reads it, with the snapshots in the adapter's own form. */
export interface ChangeRow<Snapshot> {
  seq: number;
  workspace_id: string | null;
  model_id: string;
  before: Snapshot | null;
  after: Snapshot | null;
  committed_at: number;
}

/** A model_changes row as the change it records, its snapshots read by the adapter's `snapshot`. */
export function changeOf<Snapshot>(r: ChangeRow<Snapshot>, snapshot: (s: Snapshot | null) => ModelRecord | null): ModelChangeRecord {
  return { seq: r.seq, workspaceId: r.workspace_id, modelId: r.model_id, before: snapshot(r.before), after: snapshot(r.after), committedAt: r.committed_at };
}

/** The change log's extent: changes after prunedThrough up to head are kept. */
export interface ChangeLogBounds {
  /** seq of the last committed change (0: none yet). */
  head: number;
  /** seq of the last change removed by pruning (0: none). */
  prunedThrough: number;
}

/**
 * The log of every change to models, appended in the transaction of each
 * write (by any write path), for WatchModels. Every method is one transaction.
 */
export interface ChangeLog {
  bounds(): Promise<ChangeLogBounds>;
  /** Up to `limit` changes after `seq`, in commit order. */
  changesAfter(seq: number, limit: number): Promise<ModelChangeRecord[]>;
  /**
   * The changes of `changes` a workspace sees, in their order: its own, and
   * each change of a system model as the change of the workspace's catalog
   * copy (under the copy's id) while that copy is virtual. A virtual copy's
   * revisions are its system model's changes seen this way; a copy that is
   * a row changes with its own entries.
   */
  forWorkspace(workspaceId: string, changes: ModelChangeRecord[]): Promise<ModelChangeRecord[]>;
  /** The live (not deleted, visible) models of a workspace, virtual copies included, and the head seq they are current at, read at one instant. */
  snapshot(workspaceId: string): Promise<{ head: number; models: ModelRecord[] }>;
  /** Removes the changes committed before `before` (epoch ms); returns how many. */
  prune(before: number): Promise<number>;
  /**
   * Where the database can tell: calls `listener` soon after each commit that
   * appends to the log, by any process, and again whenever the notification
   * channel (re)connects, as commits may have been missed meanwhile. Resolves
   * to a function that stops it. Without it, readers rely on polling alone.
   */
  onCommit?(listener: () => void): Promise<() => Promise<void>>;
}
