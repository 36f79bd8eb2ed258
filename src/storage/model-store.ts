import type { JsonObject } from "@bufbuild/protobuf";
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
  // The structured facts below are kept as the canonical proto JSON of their
  // modelservice.v1 message (the proto is their one definition); null when unset.
  /** ModelPricing: the catalog's prices (without the workspace's override). */
  pricing: JsonObject | null;
  /** PriceHistoryEntry list, oldest first. */
  priceHistory: JsonObject[];
  /** ModelLifecycle. */
  lifecycle: JsonObject | null;
  /** ModelSource. */
  source: JsonObject | null;
  /** Modalities. */
  modalities: JsonObject | null;
  /** ReasoningSupport. */
  reasoning: JsonObject | null;
  /** TemperatureSupport. */
  temperature: JsonObject | null;
  /** PriceOverride: the workspace's own; never inherited from the system model. */
  priceOverride: JsonObject | null;
  /** UpstreamChange: the workspace's own; never inherited from the system model. */
  upstreamChanged: JsonObject | null;
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

/**
 * How the workspace copies that are rows are kept in step with their system
 * model: the domain's rule (domain/catalog/catalog-copies.ts), which a store
 * applies inside the transaction that writes the system model. Copies that
 * are not rows (virtual copies, see virtual-copy.ts) need no rule: a store
 * projects them from the system model when it reads them.
 */
export interface CopyRules {
  /** An existing copy after its system model changed. */
  inherit(system: ModelRecord, copy: ModelRecord): ModelRecord;
}

/** A shipped system model (one with a catalog id) and the digest of the catalog entry it was last written from. */
export interface ShippedModel {
  model: ModelRecord;
  digest: string | null;
}

/** One entry of a catalog write (ModelStore.writeCatalog). */
export interface ShippedWrite {
  /**
   * The system model: inserted when there is no expectedVersion and a
   * digest, replaced (compare-and-set) with an expectedVersion, left as it
   * is without a digest.
   */
  model: ModelRecord;
  expectedVersion?: number;
  /** Digest of the catalog entry the model is written from. */
  digest?: string;
  /** Its place in the catalog file. */
  position: number;
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
  /** For system models: an update passes these rules to their copies that are rows. */
  copies?: CopyRules;
  /** Epoch ms of the caller's deadline: a transaction still running then rolls back (DeadlinePassed). */
  deadline?: number;
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
 *
 * Workspace catalogs are overlays. A workspace has a copy of every system
 * model, but a copy is a row only once the workspace wrote to it (or when it
 * was made before copies became virtual); the others are virtual copies,
 * which every read (getModel, listModels, the change log's snapshot and
 * forWorkspace) serves as virtualCopy() projects them, under the id
 * catalogCopyId() derives. A write to a virtual copy (writeModel with its
 * expectedVersion) first inserts it as a row, with its id and version, in
 * the write's transaction; a unique key (workspace, system model) keeps it
 * to one row. A store refuses a new system model whose copy id suffix
 * (copyIdSuffix) another system model has.
 */
export interface ModelStore {
  /**
   * One transaction: reads the shipped system models (by catalog id), asks
   * `plan` what to write, writes it (replaced ones pass `copies.inherit` to
   * their copies that are rows; new ones get no copy rows) and records
   * digests and positions.
   */
  writeCatalog(plan: (shipped: ReadonlyMap<string, ShippedModel>) => ShippedWrite[], copies: CopyRules): Promise<void>;
  /** The workspace, if it exists. */
  getWorkspace(id: string): Promise<WorkspaceRecord | undefined>;
  /**
   * Inserts the workspace (one row: its catalog copies are virtual); when it
   * exists already (unique id), writes nothing. Returns the stored workspace
   * either way.
   */
  createWorkspace(workspace: WorkspaceRecord, createdAt: number): Promise<WorkspaceRecord>;
  listModels(query: ModelListQuery): Promise<ModelListResult>;
  /** workspaceId null: a system model. A workspace's virtual copies are found by their id too. */
  getModel(workspaceId: string | null, id: string): Promise<ModelRecord | undefined>;
  /** The live (not deleted) model of the workspace (null: system models) with this external id. */
  findByExternalId(workspaceId: string | null, externalId: string): Promise<ModelRecord | undefined>;
  writeModel(write: ModelWrite): Promise<WriteOutcome>;
  /**
   * All the writes in one transaction, or none: the first that is stale,
   * takes an external id or reuses a request id for another request stops
   * and rolls back everything (failedIndex). Past the earliest deadline of
   * the writes, nothing commits: DeadlinePassed.
   */
  writeModels(writes: ModelWrite[]): Promise<{ outcomes: WriteOutcome[]; failedIndex?: number }>;
  /**
   * The writes in one transaction, each standing alone: one that is stale,
   * takes an external id or reuses a request id is undone by itself (its
   * outcome says why) and the others still commit. Past the earliest deadline
   * of the writes, nothing commits: DeadlinePassed.
   */
  writeEach(writes: ModelWrite[]): Promise<WriteOutcome[]>;
  /** The live workspace copies of a system model that carry a price override (for upstream price changes). */
  overriddenCopies(systemModelId: string): Promise<ModelRecord[]>;
  /** The live (not deleted) workspace copies of a system model that are rows, virtual copies not included (for retirement). */
  copyRows(systemModelId: string): Promise<ModelRecord[]>;
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
