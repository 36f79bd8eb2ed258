import { randomBytes } from "node:crypto";
import { ulid } from "ulid";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { Model, ModelStatus } from "../../../gen/modelservice/v1/model_pb.js";
import {
  RefreshCatalogResponseSchema,
  type ApplyBundleRequest,
  type ApplyBundleResponse,
  type BatchCreateModelsRequest,
  type BatchDeleteModelsRequest,
  type BatchUpdateModelsRequest,
  type CreateModelRequest,
  type CreateSystemModelRequest,
  type DeleteModelRequest,
  type DeleteSystemModelRequest,
  type DuplicateModelRequest,
  type ListModelRevisionsRequest,
  type ListModelRevisionsResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type ListSystemModelsRequest,
  type ListSystemModelsResponse,
  type RefreshCatalogRequest,
  type RefreshCatalogResponse,
  type AcknowledgeUpstreamChangeRequest,
  type RotateModelCredentialsRequest,
  type UndeleteModelRequest,
  type UpdateModelRequest,
  type UpdateSystemModelRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { ModelRecord, ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { CredentialOpenError, type CredentialSealer } from "../credentials/credential-sealer.js";
import { serviceKey, serviceKeyNames } from "../credentials/service-keys.js";
import { CatalogRefresher, type CatalogRefreshOptions, type CatalogRefreshResult } from "../catalog/catalog-refresh.js";
import type { CatalogSourceSettings } from "../catalog/catalog-source.js";
import { WorkspaceAdmission } from "../catalog/workspace-admission.js";
import { ListCursors } from "./list-cursor.js";
import { newModelId } from "./model-id.js";
import { ModelBatches, type BatchOutcome } from "./model-batches.js";
import { ModelBundles } from "./model-bundles.js";
import { ModelCommits, type Call, type Step } from "./model-commits.js";
import { ModelReads } from "./model-reads.js";
import { ModelWrites } from "./model-writes.js";

export type { Call, Step };

export interface RegistryOptions {
  sealer: CredentialSealer;
  /** How long a soft-deleted model stays restorable. */
  purgeAfterMs: number;
  /** Heap bytes the read cache may hold, its keys and answers (MODELSERVICE_READ_CACHE_BYTES). */
  readCacheBytes: number;
  /** Where RefreshCatalog reads price data from. */
  catalog: CatalogSourceSettings;
  clock?: () => number;
}

/**
 * The model catalog of every workspace: the copies of the platform's system
 * models and the workspace's own models, with their status, credentials and
 * history. Requests arrive authorized and validated. A facade over the
 * modules that do the work: reads (and the read cache), writes (with request
 * ids), batches, bundles, and the catalog (domain/catalog/).
 */
export class ModelRegistry {
  private readonly clock: () => number;
  private readonly workspaces: WorkspaceAdmission;
  private readonly reads: ModelReads;
  private readonly commits: ModelCommits;
  private readonly writes: ModelWrites;
  private readonly batches: ModelBatches;
  private readonly bundles: ModelBundles;
  private readonly catalog: CatalogRefresher;

  private constructor(
    private readonly store: ModelStore,
    cursors: ListCursors,
    fingerprintKey: Uint8Array | CredentialOpenError,
    options: RegistryOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.workspaces = new WorkspaceAdmission(store, this.clock);
    this.reads = new ModelReads(store, cursors, options.readCacheBytes);
    this.commits = new ModelCommits(store, this.reads, this.clock);
    this.writes = new ModelWrites(store, this.reads, this.commits, fingerprintKey, options, this.clock);
    this.batches = new ModelBatches(store, this.commits, this.writes);
    this.bundles = new ModelBundles(store, this.commits, this.writes, options.purgeAfterMs, this.clock);
    this.catalog = new CatalogRefresher(store, options.catalog, () => ({ newId: newModelId, now: this.clock() }), () => "rev_" + ulid());
  }

  static async open(store: ModelStore, options: RegistryOptions): Promise<ModelRegistry> {
    const opened = async (name: string): Promise<Buffer | CredentialOpenError> => {
      try {
        return await serviceKey(store, options.sealer, name);
      } catch (e) {
        if (e instanceof CredentialOpenError) return e;
        throw e;
      }
    };
    // When no configured encryption key opens a stored key the service still serves, as it does with
    // credentials it cannot open: cursors then hold only in this process, and new credentials are refused.
    const cursorKey = await opened(serviceKeyNames.cursor);
    const fingerprintKey = await opened(serviceKeyNames.fingerprint);
    return new ModelRegistry(store, new ListCursors(cursorKey instanceof Buffer ? cursorKey : randomBytes(32)), fingerprintKey, options);
  }

  /** Refreshes the catalog from price data (at start, on schedule, and by RefreshCatalog); new entries reach every existing workspace. */
  refreshCatalogData(options: CatalogRefreshOptions): Promise<CatalogRefreshResult> {
    return this.catalog.refresh(options);
  }

  /** Removes soft-deleted models past their purge time. */
  purgeDeleted(): Promise<number> {
    return this.store.purgeDeleted(this.clock());
  }

  /**
   * Lets the caller into its workspace: creates it with the whole catalog on
   * first use, and refuses a token that names it under another account.
   */
  admitWorkspace(principal: Principal): Promise<void> {
    return this.workspaces.admit(principal);
  }

  /** RefreshCatalog: the diff of the bundled data or a newer data file, applied unless a dry run. */
  async refreshCatalog(call: Call, req: RefreshCatalogRequest): Promise<RefreshCatalogResponse> {
    const actor = { profileId: call.principal.profileId, requestId: call.requestId };
    const result = await this.catalog.refresh({ dryRun: req.dryRun, source: req.source, actor });
    return create(RefreshCatalogResponseSchema, {
      addedCount: result.added.length,
      changedCount: result.changed.length,
      copiesCreatedCount: result.copiesCreated,
      retiredCount: result.removed.length,
      added: result.added,
      changed: result.changed,
      removed: result.removed,
      dataVersion: result.dataVersion,
      dryRun: result.dryRun,
    });
  }

  acknowledgeUpstreamChange(call: Call, req: AcknowledgeUpstreamChangeRequest): Promise<Model> {
    return this.writes.acknowledgeUpstreamChange(call, req);
  }

  /** What the read cache holds now: its bytes and its answers (for /metrics). */
  readCacheUsage(): { bytes: number; entries: number } {
    return this.reads.readCacheUsage();
  }

  list(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    return this.reads.list(principal, req);
  }

  get(principal: Principal, id: string): Promise<Model> {
    return this.reads.get(principal, id);
  }

  listRevisions(principal: Principal, req: ListModelRevisionsRequest): Promise<ListModelRevisionsResponse> {
    return this.reads.listRevisions(principal, req);
  }

  listSystem(principal: Principal, req: ListSystemModelsRequest): Promise<ListSystemModelsResponse> {
    return this.reads.listSystem(principal, req);
  }

  getSystem(principal: Principal, id: string): Promise<Model> {
    return this.reads.getSystem(principal, id);
  }

  create(call: Call, req: CreateModelRequest): Promise<Model> {
    return this.writes.create(call, req);
  }

  /** CreateModel as a step, to write together with others (writeEach). */
  planWorkspaceCreate(call: Call, req: CreateModelRequest): Promise<Step> {
    return this.writes.planWorkspaceCreate(call, req);
  }

  createSystem(call: Call, req: CreateSystemModelRequest): Promise<Model> {
    return this.writes.createSystem(call, req);
  }

  update(call: Call, req: UpdateModelRequest): Promise<Model> {
    return this.writes.update(call, req);
  }

  /** UpdateModel as a step, to write together with others (writeEach). */
  planWorkspaceUpdate(call: Call, req: UpdateModelRequest): Promise<Step> {
    return this.writes.planWorkspaceUpdate(call, req);
  }

  updateSystem(call: Call, req: UpdateSystemModelRequest): Promise<Model> {
    return this.writes.updateSystem(call, req);
  }

  rotateCredentials(call: Call, req: RotateModelCredentialsRequest): Promise<Model> {
    return this.writes.rotateCredentials(call, req);
  }

  setStatus(call: Call, id: string, status: ModelStatus.ENABLED | ModelStatus.DISABLED): Promise<Model> {
    return this.writes.setStatus(call, id, status);
  }

  delete(call: Call, req: DeleteModelRequest): Promise<Model> {
    return this.writes.delete(call, req);
  }

  deleteSystem(call: Call, req: DeleteSystemModelRequest): Promise<Model> {
    return this.writes.deleteSystem(call, req);
  }

  undelete(call: Call, req: UndeleteModelRequest): Promise<Model> {
    return this.writes.undelete(call, req);
  }

  duplicate(call: Call, req: DuplicateModelRequest): Promise<Model> {
    return this.writes.duplicate(call, req);
  }

  /** Writes planned steps in one transaction, each standing alone (ModelCommits.writeEach). */
  writeEach(steps: readonly Step[]): Promise<Array<ModelRecord | ConnectError>> {
    return this.commits.writeEach(steps);
  }

  batchCreate(call: Call, req: BatchCreateModelsRequest): Promise<BatchOutcome> {
    return this.batches.batchCreate(call, req);
  }

  batchUpdate(call: Call, req: BatchUpdateModelsRequest): Promise<BatchOutcome> {
    return this.batches.batchUpdate(call, req);
  }

  batchDelete(call: Call, req: BatchDeleteModelsRequest): Promise<BatchOutcome> {
    return this.batches.batchDelete(call, req);
  }

  applyBundle(call: Call, req: ApplyBundleRequest): Promise<ApplyBundleResponse> {
    return this.bundles.applyBundle(call, req);
  }
}
