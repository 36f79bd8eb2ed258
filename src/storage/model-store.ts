/** Status names as stored: the enum names of modelservice.v1.ModelStatus. */
export type StoredModelStatus = "MODEL_STATUS_ENABLED" | "MODEL_STATUS_DISABLED";

/** The spec columns shared by models and platform catalog entries. */
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
}

export interface ModelRecord {
  id: string;
  workspaceId: string;
  accountId: string;
  name: string;
  profileId: string;
  bundleKey: string | null;
  externalId: string | null;
  labels: Record<string, string>;
  catalogId: string | null;
  spec: ModelSpecRecord;
  status: StoredModelStatus;
  /** Unix epoch milliseconds. */
  createdAt: number;
  updatedAt: number;
}

export interface CatalogEntryRecord {
  catalogId: string;
  name: string;
  spec: ModelSpecRecord;
}

/** What seeding a workspace's catalog copies needs beyond the entries. */
export interface CopyContext {
  newId: () => string;
  profileId: string;
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

/** Position of the last item of a page, in the list's sort order. */
export interface ListPosition {
  createdAt: number;
  id: string;
}

export interface ModelListQuery {
  workspaceId: string;
  limit: number;
  descending: boolean;
  after?: ListPosition;
  prefix?: string;
  /** Every term must occur somewhere in the searchable text of a model. */
  queryTerms: string[];
  status?: StoredModelStatus;
  bundleKey?: string;
  labels: Array<[string, string]>;
}

export interface ModelListResult {
  models: ModelRecord[];
  /** Matches of the filters over all pages. */
  total: number;
}

/**
 * The one way the domain reaches storage. Async, so that adapters for
 * databases with asynchronous drivers fit behind it unchanged.
 */
export interface ModelStore {
  /** Brings the catalog entries up to date and gives existing workspaces copies of new ones. */
  syncCatalog(entries: CatalogEntryRecord[], copy: CopyContext): Promise<CatalogSyncResult>;
  /** Returns the workspace, creating it with copies of the whole catalog when it is new. */
  ensureWorkspace(workspace: WorkspaceRecord, copy: CopyContext): Promise<WorkspaceRecord>;
  listModels(query: ModelListQuery): Promise<ModelListResult>;
  getModel(workspaceId: string, id: string): Promise<ModelRecord | undefined>;
  setModelStatus(
    workspaceId: string,
    id: string,
    status: StoredModelStatus,
    now: number,
  ): Promise<ModelRecord | undefined>;
  insertModel(model: ModelRecord): Promise<void>;
  /** Returns the named secret, creating it once with `create` (shared by every process on the database). */
  secret(name: string, create: () => string): Promise<string>;
  close(): Promise<void>;
}
