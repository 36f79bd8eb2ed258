import type { CheckedFilterNode, OrderTerm } from "./model-filter.js";

/** Status names as stored: the enum names of modelservice.v1.ModelStatus. */
export type StoredModelStatus = "MODEL_STATUS_ENABLED" | "MODEL_STATUS_DISABLED";

/** Origin names as stored: the enum names of modelservice.v1.ModelOrigin. */
export type StoredModelOrigin = "MODEL_ORIGIN_SYSTEM" | "MODEL_ORIGIN_WORKSPACE";

/** The spec columns a system model hands down to its workspace copies. */
export interface ModelSpecRecord {
  family: string | null;
  provider: string | null;
  inputPriceCents: number | null;
  outputPriceCents: number | null;
  cachedInputPriceCents: number | null;
  inputPriceUsd: string | null;
  outputPriceUsd: string | null;
  cachedInputPriceUsd: string | null;
  maxInputTokens: number | null;
  maxOutputTokens: number | null;
  /** ModelCapability enum names. */
  capabilities: string[];
  description: string | null;
  modelUrl: string | null;
}

/** Sealed endpoint secrets and what may be said about them. */
export interface CredentialRecord {
  keyId: string | null;
  blob: Uint8Array | null;
  hasToken: boolean;
  hasClientKey: boolean;
  fingerprint: string | null;
  /** Unix epoch milliseconds. */
  updatedAt: number | null;
}

export const noCredentials: CredentialRecord = {
  keyId: null,
  blob: null,
  hasToken: false,
  hasClientKey: false,
  fingerprint: null,
  updatedAt: null,
};

export interface ModelRecord {
  id: string;
  /** null for a system model (owned by the platform, copied into workspaces). */
  workspaceId: string | null;
  accountId: string | null;
  name: string;
  profileId: string;
  bundleKey: string | null;
  externalId: string | null;
  labels: Record<string, string>;
  /** Key of the system model: "provider/family" for shipped ones, else its id. Set on system models and their copies. */
  catalogId: string | null;
  /** On a workspace copy: the id of its system model. */
  systemModelId: string | null;
  origin: StoredModelOrigin;
  /** Whether workspaces see the system model (on system models and their copies; true otherwise). */
  visible: boolean;
  spec: ModelSpecRecord;
  credentials: CredentialRecord;
  /** null on system models: status belongs to each workspace's copy. */
  status: StoredModelStatus | null;
  /** Incremented on every write; the etag derives from it. */
  version: number;
  /** Unix epoch milliseconds. */
  createdAt: number;
  updatedAt: number;
  deleteTime: number | null;
  purgeTime: number | null;
}

/** A system model shipped in the platform catalog file. */
export interface CatalogEntryRecord {
  catalogId: string;
  name: string;
  spec: ModelSpecRecord;
}

/** What creating workspace copies of system models needs. */
export interface CopyContext {
  newId: () => string;
  now: number;
}

export interface CatalogSyncResult {
  added: number;
  changed: number;
  copiesCreated: number;
}

export interface WorkspaceRecord {
  id: string;
  accountId: string;
}

export interface FieldChangeRecord {
  field: string;
  oldValue?: string;
  newValue?: string;
}

export interface RevisionRecord {
  id: string;
  modelId: string;
  /** RevisionAction enum name. */
  action: string;
  profileId: string;
  requestId: string;
  changes: FieldChangeRecord[];
  createdAt: number;
}

/** An AIP-155 request id and what its first call did. */
export interface IdempotencyRecord {
  /** The workspace id, or "system" for system model calls. */
  scope: string;
  requestId: string;
  /** Digest of the method and request body, to tell a retry from a reuse. */
  requestHash: string;
  modelId: string;
  createdAt: number;
}

/** Where a page ended: the sort-key values of its last item, then its id. */
export interface ListPosition {
  values: Array<string | number | null>;
  id: string;
}

export interface ModelListQuery {
  /** null lists the system models. */
  workspaceId: string | null;
  limit: number;
  after?: ListPosition;
  prefix?: string;
  /** Full-text search terms (prefix matches); none: no search. */
  search: string[];
  status?: StoredModelStatus;
  bundleKey?: string;
  labels: Array<[string, string]>;
  showDeleted: boolean;
  /** Also list copies of hidden system models (workspace lists leave them out). */
  showHidden: boolean;
  filter?: CheckedFilterNode;
  /** Explicit order; then search rank when searching and ranked; then creation time and id. */
  order: OrderTerm[];
  rankBySearch: boolean;
  /** Direction of the creation-time and id tie-breakers. */
  descending: boolean;
  /** Count the matches per provider and per status. */
  facets: boolean;
  /** Walks over every page need no total: skip counting (total is then 0). */
  skipTotal?: boolean;
}

export interface ModelListResult {
  models: ModelRecord[];
  /** Where each model of `models` stands in the order, for cursors. */
  positions: ListPosition[];
  /** Matches of the filters over all pages. */
  total: number;
  /** Field -> value -> count, when asked. */
  facets?: Record<string, Array<{ value: string; count: number }>>;
}

/** One write of a model with its audit record, done atomically. */
export interface ModelWrite {
  model: ModelRecord;
  /** The version the write replaces; absent for a new model. */
  expectedVersion?: number;
  revision: RevisionRecord;
  idempotency?: IdempotencyRecord;
  /** For system models: keeps the workspace copies in step (creates them for a new visible one). */
  copies?: CopyContext;
  /** Epoch ms of the caller's deadline: a transaction still running then rolls back (DeadlinePassedError). */
  deadline?: number;
}

/** A write's deadline passed before its transaction could commit; nothing was written. */
export class DeadlinePassedError extends Error {
  constructor() {
    super("deadline passed before the write committed; nothing was written");
  }
}

/**
 * The database could not be reached, or lost the connection (for a write
 * maybe during its commit: its outcome is unknown, and its request id makes
 * the retry safe). Retryable.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super("the database is unavailable, retry", { cause });
  }
}

export type WriteOutcome =
  | { kind: "written"; model: ModelRecord }
  /** The model changed since expectedVersion (or is gone). */
  | { kind: "stale" }
  /** Another live model of the workspace has this external id. */
  | { kind: "external-id-taken" }
  /** The request id was used first by another call; nothing was written. */
  | { kind: "request-id-taken"; record: IdempotencyRecord };

export interface RevisionPage {
  revisions: RevisionRecord[];
  total: number;
}

/**
 * The one way the domain reaches storage. Async, so that adapters for
 * databases with asynchronous drivers fit behind it unchanged; every method
 * is one transaction.
 */
export interface ModelStore {
  /** Brings the shipped system models up to date and gives workspaces copies of new ones. */
  syncCatalog(entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult>;
  /** Returns the workspace, creating it with copies of every visible system model when it is new. */
  ensureWorkspace(workspace: WorkspaceRecord, copy: CopyContext): Promise<WorkspaceRecord>;
  listModels(query: ModelListQuery): Promise<ModelListResult>;
  /** workspaceId null: a system model. */
  getModel(workspaceId: string | null, id: string): Promise<ModelRecord | undefined>;
  /** The live (not deleted) model of the workspace (null: system models) with this external id. */
  findByExternalId(workspaceId: string | null, externalId: string): Promise<ModelRecord | undefined>;
  writeModel(write: ModelWrite): Promise<WriteOutcome>;
  /**
   * All the writes in one transaction, or none: the first that is stale,
   * takes an external id or reuses a request id for another request stops
   * and rolls back everything (failedIndex). Past the earliest deadline of
   * the writes, nothing commits: DeadlinePassedError.
   */
  writeModels(writes: ModelWrite[]): Promise<{ outcomes: WriteOutcome[]; failedIndex?: number }>;
  /**
   * The writes in one transaction, each standing alone: one that is stale,
   * takes an external id or reuses a request id is undone by itself (its
   * outcome says why) and the others still commit. Past the earliest deadline
   * of the writes, nothing commits: DeadlinePassedError.
   */
  writeEach(writes: ModelWrite[]): Promise<WriteOutcome[]>;
  /** Inserts a model as it is, without an audit record (tests and imports of raw rows). */
  insertModel(model: ModelRecord): Promise<void>;
  findRequest(scope: string, requestId: string): Promise<IdempotencyRecord | undefined>;
  listRevisions(modelId: string, limit: number, beforeId?: string): Promise<RevisionPage>;
  /** Every model holding sealed credentials (for key rotation). */
  sealedCredentials(): Promise<Array<{ id: string; keyId: string; blob: Uint8Array }>>;
  /** Replaces sealed credentials without touching anything else (key rotation). */
  resealCredentials(id: string, keyId: string, blob: Uint8Array): Promise<void>;
  /** Removes soft-deleted models whose purge time has passed; returns how many. */
  purgeDeleted(now: number): Promise<number>;
  /** Returns the named secret, creating it once with `create` (shared by every process on the database). */
  secret(name: string, create: () => string): Promise<string>;
  /**
   * Replaces the named secret if it still holds `expected` (another process
   * may have replaced it first); the old value's bytes are overwritten in the
   * file, not left in free space.
   */
  replaceSecret(name: string, expected: string, value: string): Promise<void>;
  /**
   * A value that changes whenever a commit may have changed what reads
   * return, whether this process or another on the same database made it:
   * read before a read, it tells a cached answer from a stale one.
   */
  changeStamp(): Promise<string>;
  close(): Promise<void>;
}
