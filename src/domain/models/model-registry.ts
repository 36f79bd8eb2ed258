import { randomBytes } from "node:crypto";
import { create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ulid } from "ulid";
import { ModelSchema, ModelStatus, type Credentials as CredentialsMessage, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { BadRequestSchema } from "../../../gen/google/rpc/error_details_pb.js";
import {
  ApplyBundleResponseSchema,
  BundleAction,
  type ApplyBundleRequest,
  type ApplyBundleResponse,
  RefreshCatalogResponseSchema,
  type BatchCreateModelsRequest,
  type BatchDeleteModelsRequest,
  type BatchUpdateModelsRequest,
  type RefreshCatalogResponse,
  CreateModelRequestSchema,
  CreateSystemModelRequestSchema,
  DeleteModelRequestSchema,
  DeleteSystemModelRequestSchema,
  DuplicateModelRequestSchema,
  ListModelRevisionsResponseSchema,
  ListModelsRequestSchema,
  ListModelsResponseSchema,
  ListSystemModelsResponseSchema,
  RevisionAction,
  RotateModelCredentialsRequestSchema,
  UndeleteModelRequestSchema,
  UpdateModelRequestSchema,
  UpdateSystemModelRequestSchema,
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
  type RotateModelCredentialsRequest,
  type UndeleteModelRequest,
  type UpdateModelRequest,
  type UpdateSystemModelRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  noCredentials,
  type CatalogEntryRecord,
  type CredentialRecord,
  type IdempotencyRecord,
  type ModelListQuery,
  type ModelRecord,
  type ModelStore,
  type ModelWrite,
  type WriteOutcome,
} from "../../storage/model-store.js";
import { requireChangeScopes, type ModelChange } from "../auth/change-scopes.js";
import type { Principal } from "../auth/principal.js";
import { CredentialOpenError, fingerprint, type CredentialSealer, type Credentials } from "../credentials/credential-sealer.js";
import { serviceKey, serviceKeyNames } from "../credentials/service-keys.js";
import { copyRules } from "../catalog/catalog-copies.js";
import { syncCatalog, type CatalogSyncResult } from "../catalog/catalog-sync.js";
import { loadPlatformCatalog } from "../catalog/platform-catalog.js";
import { WorkspaceAdmission } from "../catalog/workspace-admission.js";
import { invalidArgument } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { isBedrockUrl } from "./endpoint-rules.js";
import { ListCursors } from "./list-cursor.js";
import { newModelId } from "./model-id.js";
import { ReadCache } from "./read-cache.js";
import { modelPages } from "./model-pages.js";
import { applyUpdate, copyEditablePaths, credentialsPath, resolveMask, specOf, updatablePaths } from "./model-input.js";
import { etagOf, storedStatus, toModelMessage } from "./model-message.js";
import { filterQuery, listOrder, parseSortOrder } from "./list-query.js";
import { defaultPageSize, maxPageSize } from "./model-rules.js";
import { requestDigest } from "./request-ids.js";
import type { OrderTerm } from "../../storage/model-filter.js";
import { fieldChanges } from "./revision-diff.js";
import type { BatchOutcome } from "./model-batches.js";

const systemScope = "system";

/** Who is calling, and the request id their call is logged under. */
export interface Call {
  principal: Principal;
  requestId: string;
  /** Epoch ms by which the caller wants the answer; a write not committed by then is not committed at all. */
  deadline?: number;
}

export interface RegistryOptions {
  sealer: CredentialSealer;
  /** How long a soft-deleted model stays restorable. */
  purgeAfterMs: number;
  /** Heap bytes the read cache may hold, its keys and answers (MODELSERVICE_READ_CACHE_BYTES). */
  readCacheBytes: number;
  clock?: () => number;
}

function notFound(id: string): ConnectError {
  return new ConnectError(`model "${id}" not found`, Code.NotFound);
}

function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

/** A planned write, or the model the request already is (a replay, a preview, no change). */
export type Step = ModelWrite | ModelRecord;

function isWrite(step: Step): step is ModelWrite {
  return "revision" in step;
}

/** An item's error, named after its place in the batch ("requests[2]"), keeping its code. */
function indexedError(e: unknown, field: string): ConnectError {
  const error = ConnectError.from(e);
  const violations = error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
  const prefixed = violations.map((v) => ({ field: `${field}.${v.field}`, description: v.description }));
  const details = prefixed.length > 0 ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: prefixed }) }] : [];
  return new ConnectError(`${field}: ${error.rawMessage}`, error.code, error.metadata, details);
}

/** InvalidArgument naming the first id that repeats an earlier one: a batch deletes each model once. */
function checkDistinct(ids: readonly string[], field: (i: number) => string): void {
  const first = new Map<string, number>();
  for (const [i, id] of ids.entries()) {
    const seen = first.get(id);
    if (seen !== undefined) throw invalidArgument([{ field: field(i), description: `repeats ${field(seen)}: a batch deletes each model once` }]);
    if (id !== "") first.set(id, i);
  }
}

const readerKeys = new WeakMap<Principal, string>();

/**
 * Who reads, as far as it shapes an answer: the workspace, and the scopes
 * (they decide canEdit). Built once per principal: the token verifier hands
 * out the same principal for every call of a token.
 */
function readerKey(principal: Principal): string {
  let key = readerKeys.get(principal);
  if (key === undefined) {
    key = `${principal.workspaceId}\0${[...principal.scopes].sort().join(" ")}`;
    readerKeys.set(principal, key);
  }
  return key;
}

/**
 * Heap bytes a cached answer takes per byte of its binary form: about six,
 * measured on ListModels pages, plus one for the encoded copy the wire keeps
 * beside a GetModel or ListModels answer (src/wire/encoded-answers.ts).
 */
const heapBytesPerSerializedByte = 7;

function pageSize(limit: number): number {
  return Math.min(limit === 0 ? defaultPageSize : limit, maxPageSize);
}

/**
 * The model catalog of every workspace: the copies of the platform's system
 * models and the workspace's own models, with their status, credentials and
 * history. Requests arrive authorized and validated.
 */
export class ModelRegistry {
  private readonly workspaces: WorkspaceAdmission;
  private readonly clock: () => number;
  /** Answers of GetModel and ListModels, bounded by bytes (RegistryOptions.readCacheBytes). */
  private readonly reads: ReadCache;

  private constructor(
    private readonly store: ModelStore,
    private readonly cursors: ListCursors,
    /** The key of credential fingerprints, or why no configured encryption key opens it. */
    private readonly fingerprintKey: Uint8Array | CredentialOpenError,
    private readonly options: RegistryOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.reads = new ReadCache(options.readCacheBytes);
    this.workspaces = new WorkspaceAdmission(store, this.clock);
  }

  /** What the read cache holds now: its bytes and its answers (for /metrics). */
  readCacheUsage(): { bytes: number; entries: number } {
    return { bytes: this.reads.bytes, entries: this.reads.size };
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

  /** Stores the catalog of this release; new entries reach every existing workspace. */
  syncCatalog(entries: CatalogEntryRecord[]): Promise<CatalogSyncResult> {
    return syncCatalog(this.store, entries, { newId: newModelId, now: this.clock() });
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

  // ---- reads

  private async page(query: Omit<ModelListQuery, "limit" | "after">, cursor: string, limit: number) {
    const digest = this.cursors.filterDigest(query);
    let after;
    if (cursor !== "") {
      after = this.cursors.decode(cursor, digest);
      if (typeof after === "string") throw invalidArgument([{ field: "cursor", description: after }]);
    }
    const size = pageSize(limit);
    const { models, positions, total, facets } = await this.store.listModels({ ...query, limit: size + 1, after });
    const page = models.slice(0, size);
    const last = positions[page.length - 1];
    const nextCursor = models.length > size && last ? this.cursors.encode(last, digest) : "";
    return { page, pagination: { nextCursor, total }, facets };
  }

  /** ListModels; answers are reused until the next commit (ReadCache). */
  async list(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    // Known fields only: a request's unknown fields never make a new entry.
    const known = toBinary(ListModelsRequestSchema, req, { writeUnknownFields: false });
    const key = `list\0${readerKey(principal)}\0${Buffer.from(known).toString("base64")}`;
    return this.reads.through(key, await this.store.changeStamp(), () => this.listUncached(principal, req), (page) =>
      toBinary(ListModelsResponseSchema, page).byteLength * heapBytesPerSerializedByte,
    );
  }

  private async listUncached(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    const sortOrder = parseSortOrder(req.sortOrder);
    const filters = filterQuery(principal.workspaceId, req);
    if (filters === undefined) return create(ListModelsResponseSchema, { pagination: { nextCursor: "", total: 0 } });
    const { page, pagination, facets } = await this.page(
      {
        ...filters,
        order: listOrder(req) as OrderTerm[],
        rankBySearch: req.sortOrder === "" && req.orderBy === "",
        descending: sortOrder === "desc",
        facets: req.includeFacets,
      },
      req.cursor,
      req.limit,
    );
    return create(ListModelsResponseSchema, {
      items: page.map((r) => toModelMessage(r, principal.scopes)),
      pagination,
      facets: Object.entries(facets ?? {}).map(([field, values]) => ({ field, values })),
    });
  }

  private async load(workspaceId: string | null, id: string): Promise<ModelRecord> {
    const found = await this.store.getModel(workspaceId, id);
    if (!found) throw notFound(id);
    return found;
  }

  /** GetModel, the call on every LLM request's path; answers are reused until the next commit (ReadCache). */
  async get(principal: Principal, id: string): Promise<Model> {
    return this.reads.through(`get\0${readerKey(principal)}\0${id}`, await this.store.changeStamp(), async () =>
      toModelMessage(await this.load(principal.workspaceId, id), principal.scopes),
      (model) => toBinary(ModelSchema, model).byteLength * heapBytesPerSerializedByte,
    );
  }

  async listRevisions(principal: Principal, req: ListModelRevisionsRequest): Promise<ListModelRevisionsResponse> {
    await this.load(principal.workspaceId, req.id);
    const digest = this.cursors.filterDigest({ revisionsOf: req.id });
    let before: string | undefined;
    if (req.cursor !== "") {
      const position = this.cursors.decode(req.cursor, digest);
      if (typeof position === "string") throw invalidArgument([{ field: "cursor", description: position }]);
      before = position.id;
    }
    const size = pageSize(req.limit);
    const { revisions, total } = await this.store.listRevisions(req.id, size + 1, before);
    const page = revisions.slice(0, size);
    const last = page[page.length - 1];
    return create(ListModelRevisionsResponseSchema, {
      items: page.map((r) => ({
        id: r.id,
        modelId: r.modelId,
        action: RevisionAction[r.action.replace(/^REVISION_ACTION_/, "") as keyof typeof RevisionAction],
        profileId: r.profileId,
        requestId: r.requestId,
        createTime: timestampFromMs(r.createdAt),
        changes: r.changes,
      })),
      pagination: {
        nextCursor: revisions.length > size && last ? this.cursors.encode({ values: [], id: last.id }, digest) : "",
        total,
      },
    });
  }

  // ---- writes

  /** Writes a new version of a model with its audit record; maps the store's outcomes to errors. */
  /** The write of a new version of a model with its audit record. */
  private modelWrite(call: Call, action: RevisionAction, before: ModelRecord | undefined, after: ModelRecord, idempotency?: IdempotencyRecord): ModelWrite {
    const now = this.clock();
    const model: ModelRecord = before ? { ...after, version: before.version + 1, updatedAt: now } : after;
    return {
      model,
      expectedVersion: before?.version,
      revision: {
        id: "rev_" + ulid(),
        modelId: model.id,
        action: `REVISION_ACTION_${RevisionAction[action]}`,
        profileId: call.principal.profileId,
        requestId: call.requestId,
        changes: fieldChanges(before, model),
        createdAt: now,
      },
      idempotency,
      copies: model.workspaceId === null ? copyRules : undefined,
      deadline: call.deadline,
    };
  }

  /** What a write's outcome means for the caller: the model, or the error. */
  private async outcomeModel(write: ModelWrite, outcome: WriteOutcome): Promise<ModelRecord> {
    const model = write.model;
    switch (outcome.kind) {
      case "written":
        return outcome.model;
      case "stale":
        throw new ConnectError(`model "${model.id}" was changed by another request; read it again`, Code.Aborted);
      case "external-id-taken":
        throw new ConnectError(`another model of the workspace has externalId "${model.externalId}"`, Code.AlreadyExists);
      case "request-id-taken":
        return this.replay(outcome.record, write.idempotency!.requestHash, model.workspaceId);
    }
  }

  private async commit(
    call: Call,
    action: RevisionAction,
    before: ModelRecord | undefined,
    after: ModelRecord,
    idempotency?: IdempotencyRecord,
  ): Promise<ModelRecord> {
    const write = this.modelWrite(call, action, before, after, idempotency);
    return this.outcomeModel(write, await this.store.writeModel(write));
  }

  /** The answer to a retried request id (AIP-155): the model it made, or AlreadyExists for another request. */
  private async replay(first: IdempotencyRecord, digest: string, workspaceId: string | null): Promise<ModelRecord> {
    if (first.requestHash !== digest) {
      throw new ConnectError(`request id "${first.requestId}" was already used for another request`, Code.AlreadyExists);
    }
    return this.load(workspaceId, first.modelId);
  }

  /**
   * Runs a write under its request id: a retry returns what the first call
   * made instead of writing again.
   */
  private async once<T>(
    scope: string,
    schema: DescMessage,
    req: Message & { requestId: string },
    write: (idempotency: (modelId: string) => IdempotencyRecord | undefined) => Promise<T>,
  ): Promise<T | ModelRecord> {
    if (req.requestId === "") return write(() => undefined);
    const digest = requestDigest(schema.typeName, schema, req);
    const first = await this.store.findRequest(scope, req.requestId);
    if (first) return this.replay(first, digest, scope === systemScope ? null : scope);
    return write((modelId) => ({ scope, requestId: req.requestId, requestHash: digest, modelId, createdAt: this.clock() }));
  }

  private checkEtag(record: ModelRecord, etag: string | undefined): void {
    if (etag && etag !== etagOf(record)) {
      throw new ConnectError(`etag "${etag.slice(0, 64)}" is stale: model "${record.id}" has changed`, Code.Aborted);
    }
  }

  private requireLive(record: ModelRecord): void {
    if (record.deleteTime !== null) throw failedPrecondition(`model "${record.id}" is deleted; undelete it first`);
  }

  /** Seals credentials for one model; a bedrock:// endpoint ignores the token (IAM signs its calls). */
  private sealCredentials(modelId: string, message: CredentialsMessage | undefined, modelUrl: string | null): CredentialRecord {
    const token = modelUrl !== null && isBedrockUrl(modelUrl) ? "" : (message?.token ?? "");
    const secrets: Credentials = {};
    if (token !== "") secrets.token = token;
    if (message?.clientKey) secrets.clientKey = message.clientKey;
    if (message?.secretKey) secrets.secretKey = message.secretKey;
    if (Object.keys(secrets).length === 0) return { ...noCredentials, updatedAt: this.clock() };
    if (this.fingerprintKey instanceof CredentialOpenError) throw failedPrecondition(this.fingerprintKey.message);
    const sealed = this.options.sealer.seal(modelId, secrets);
    return {
      keyId: sealed.keyId,
      blob: sealed.blob,
      hasToken: secrets.token !== undefined,
      hasClientKey: secrets.clientKey !== undefined,
      fingerprint: fingerprint(this.fingerprintKey, secrets),
      updatedAt: this.clock(),
    };
  }

  private newRecord(principal: Principal, system: boolean, body: Model): ModelRecord {
    const id = newModelId();
    const now = this.clock();
    const spec = specOf(body.spec);
    const status = body.spec?.status === ModelStatus.DISABLED ? "MODEL_STATUS_DISABLED" : "MODEL_STATUS_ENABLED";
    return {
      id,
      workspaceId: system ? null : principal.workspaceId,
      accountId: system ? null : principal.accountId,
      name: body.metadata?.name ?? "",
      profileId: principal.profileId,
      bundleKey: body.metadata?.bundleKey ?? null,
      externalId: body.metadata?.externalId ?? null,
      labels: { ...(body.metadata?.labels ?? {}) },
      catalogId: system ? id : null,
      systemModelId: null,
      origin: system ? "MODEL_ORIGIN_SYSTEM" : "MODEL_ORIGIN_WORKSPACE",
      visible: system ? (body.spec?.visible ?? true) : true,
      spec,
      credentials: body.spec?.credentials ? this.sealCredentials(id, body.spec.credentials, spec.modelUrl) : noCredentials,
      status: system ? null : status,
      version: 1,
      createdAt: now,
      updatedAt: now,
      deleteTime: null,
      purgeTime: null,
    };
  }

  /** validateOnly must refuse what the write would: a live model of the scope already holding the external id. */
  private async checkExternalIdFree(record: ModelRecord): Promise<void> {
    if (record.externalId === null) return;
    const holder = await this.store.findByExternalId(record.workspaceId, record.externalId);
    if (holder && holder.id !== record.id) {
      throw new ConnectError(`another model of the workspace has externalId "${record.externalId}"`, Code.AlreadyExists);
    }
  }

  /** A create as a write (or its preview, or the model a replayed request id made). */
  private planCreate(call: Call, system: boolean, req: CreateModelRequest | CreateSystemModelRequest, schema: DescMessage): Promise<Step> {
    const scope = system ? systemScope : call.principal.workspaceId;
    return this.once(scope, schema, req, async (idempotency) => {
      const record = this.newRecord(call.principal, system, req.model!);
      if (!req.validateOnly) return this.modelWrite(call, RevisionAction.CREATE, undefined, record, idempotency(record.id));
      await this.checkExternalIdFree(record);
      return record;
    });
  }

  /** Runs a planned step: writes it, or returns the model it already is. */
  private async execute(step: Step): Promise<ModelRecord> {
    return isWrite(step) ? this.outcomeModel(step, await this.store.writeModel(step)) : step;
  }

  private async createIn(call: Call, system: boolean, req: CreateModelRequest | CreateSystemModelRequest, schema: DescMessage): Promise<Model> {
    return toModelMessage(await this.execute(await this.planCreate(call, system, req, schema)), call.principal.scopes);
  }

  create(call: Call, req: CreateModelRequest): Promise<Model> {
    return this.createIn(call, false, req, CreateModelRequestSchema);
  }

  /** CreateModel as a step, to write together with others (writeEach). */
  planWorkspaceCreate(call: Call, req: CreateModelRequest): Promise<Step> {
    return this.planCreate(call, false, req, CreateModelRequestSchema);
  }

  createSystem(call: Call, req: CreateSystemModelRequest): Promise<Model> {
    return this.createIn(call, true, req, CreateSystemModelRequestSchema);
  }

  /** An update as a write (or the unchanged model, its preview, or a replay). */
  private async planUpdate(
    call: Call,
    workspaceId: string | null,
    req: UpdateModelRequest | UpdateSystemModelRequest,
    schema: DescMessage,
  ): Promise<Step> {
    const body = req.model!;
    const paths = resolveMask(req.updateMask, body, "model");
    if (paths.length > 0 && typeof paths[0] !== "string") throw invalidArgument(paths as Exclude<typeof paths, string[]>);
    return this.once(workspaceId ?? systemScope, schema, req, async (idempotency): Promise<Step> => {
      const record = await this.load(workspaceId, req.id);
      this.requireLive(record);
      this.checkEtag(record, body.metadata?.etag);
      const isCopy = record.workspaceId !== null && record.origin === "MODEL_ORIGIN_SYSTEM";
      // On a platform model, "*" means what the workspace may change there.
      const everything = req.updateMask?.paths.includes("*") ?? false;
      const masked = isCopy && everything ? (paths as string[]).filter((p) => copyEditablePaths.has(p)) : (paths as string[]);
      if (isCopy) {
        const refused = masked.filter((p) => !copyEditablePaths.has(p));
        if (refused.length > 0) {
          throw failedPrecondition(`model "${record.id}" belongs to the platform: only labels and status can change here (not ${refused.join(", ")})`);
        }
      }
      const next = applyUpdate(record, body, masked);
      if (masked.includes("metadata.name") && next.name.trim() === "") {
        throw invalidArgument([{ field: "model.metadata.name", description: "is required" }]);
      }
      if (masked.includes(credentialsPath)) next.credentials = this.sealCredentials(record.id, body.spec?.credentials, next.spec.modelUrl);
      if (next.credentials.blob !== null && next.spec.modelUrl === null) {
        throw invalidArgument([{ field: "model.spec.modelUrl", description: "is required while credentials are set" }]);
      }
      if (req.validateOnly) {
        await this.checkExternalIdFree(next);
        return next;
      }
      if (fieldChanges(record, next).length === 0 && !masked.includes(credentialsPath)) return record;
      return this.modelWrite(call, RevisionAction.UPDATE, record, next, idempotency(record.id));
    });
  }

  private async updateIn(
    call: Call,
    workspaceId: string | null,
    req: UpdateModelRequest | UpdateSystemModelRequest,
    schema: DescMessage,
  ): Promise<Model> {
    return toModelMessage(await this.execute(await this.planUpdate(call, workspaceId, req, schema)), call.principal.scopes);
  }

  update(call: Call, req: UpdateModelRequest): Promise<Model> {
    return this.updateIn(call, call.principal.workspaceId, req, UpdateModelRequestSchema);
  }

  /** UpdateModel as a step, to write together with others (writeEach). */
  planWorkspaceUpdate(call: Call, req: UpdateModelRequest): Promise<Step> {
    return this.planUpdate(call, call.principal.workspaceId, req, UpdateModelRequestSchema);
  }

  updateSystem(call: Call, req: UpdateSystemModelRequest): Promise<Model> {
    return this.updateIn(call, null, req, UpdateSystemModelRequestSchema);
  }

  async rotateCredentials(call: Call, req: RotateModelCredentialsRequest): Promise<Model> {
    const rotated = await this.once(call.principal.workspaceId, RotateModelCredentialsRequestSchema, req, async (idempotency) => {
      const record = await this.load(call.principal.workspaceId, req.id);
      this.requireLive(record);
      this.checkEtag(record, req.etag);
      if (record.origin === "MODEL_ORIGIN_SYSTEM") throw failedPrecondition(`model "${record.id}" belongs to the platform`);
      if (record.spec.modelUrl === null) throw failedPrecondition(`model "${record.id}" has no modelUrl to use credentials with`);
      const next = { ...record, credentials: this.sealCredentials(record.id, req.credentials, record.spec.modelUrl) };
      return this.commit(call, RevisionAction.ROTATE_CREDENTIALS, record, next, idempotency(record.id));
    });
    return toModelMessage(rotated, call.principal.scopes);
  }

  async setStatus(call: Call, id: string, status: ModelStatus.ENABLED | ModelStatus.DISABLED): Promise<Model> {
    const record = await this.load(call.principal.workspaceId, id);
    this.requireLive(record);
    const wanted = storedStatus(status);
    if (record.status === wanted) return toModelMessage(record, call.principal.scopes);
    const updated = await this.commit(call, RevisionAction.SET_STATUS, record, { ...record, status: wanted });
    return toModelMessage(updated, call.principal.scopes);
  }

  /** A soft delete as a write (or a replay). */
  private planDelete(call: Call, workspaceId: string | null, req: DeleteModelRequest | DeleteSystemModelRequest, schema: DescMessage): Promise<Step> {
    return this.once(workspaceId ?? systemScope, schema, req, async (idempotency): Promise<Step> => {
      const record = await this.load(workspaceId, req.id);
      if (record.deleteTime !== null) throw notFound(req.id);
      if (record.workspaceId !== null && record.origin === "MODEL_ORIGIN_SYSTEM") {
        throw failedPrecondition(`model "${record.id}" belongs to the platform and cannot be deleted; disable it instead`);
      }
      this.checkEtag(record, req.etag);
      const now = this.clock();
      const next = { ...record, deleteTime: now, purgeTime: now + this.options.purgeAfterMs };
      return this.modelWrite(call, RevisionAction.DELETE, record, next, idempotency(record.id));
    });
  }

  private async deleteIn(call: Call, workspaceId: string | null, req: DeleteModelRequest | DeleteSystemModelRequest, schema: DescMessage): Promise<Model> {
    return toModelMessage(await this.execute(await this.planDelete(call, workspaceId, req, schema)), call.principal.scopes);
  }

  delete(call: Call, req: DeleteModelRequest): Promise<Model> {
    return this.deleteIn(call, call.principal.workspaceId, req, DeleteModelRequestSchema);
  }

  deleteSystem(call: Call, req: DeleteSystemModelRequest): Promise<Model> {
    return this.deleteIn(call, null, req, DeleteSystemModelRequestSchema);
  }

  async undelete(call: Call, req: UndeleteModelRequest): Promise<Model> {
    const restored = await this.once(call.principal.workspaceId, UndeleteModelRequestSchema, req, async (idempotency) => {
      const record = await this.load(call.principal.workspaceId, req.id);
      if (record.deleteTime === null) throw failedPrecondition(`model "${record.id}" is not deleted`);
      const next = { ...record, deleteTime: null, purgeTime: null };
      return this.commit(call, RevisionAction.UNDELETE, record, next, idempotency(record.id));
    });
    return toModelMessage(restored, call.principal.scopes);
  }

  /** A workspace model with the spec and labels of `source`; its credentials only when asked, re-sealed for the new id. */
  private duplicateOf(call: Call, source: ModelRecord, req: DuplicateModelRequest): ModelRecord {
    const { principal } = call;
    const now = this.clock();
    const id = newModelId();
    let credentials = noCredentials;
    if (req.copyCredentials && source.credentials.blob !== null && source.credentials.keyId !== null) {
      try {
        const secrets = this.options.sealer.open(source.id, { keyId: source.credentials.keyId, blob: source.credentials.blob });
        const sealed = this.options.sealer.seal(id, secrets);
        credentials = { ...source.credentials, keyId: sealed.keyId, blob: sealed.blob, updatedAt: now };
      } catch (e) {
        if (e instanceof CredentialOpenError) throw failedPrecondition(e.message);
        throw e;
      }
    }
    return {
      ...source,
      id,
      accountId: principal.accountId,
      name: req.name || `${source.name} (copy)`,
      profileId: principal.profileId,
      bundleKey: null,
      externalId: null,
      labels: { ...source.labels },
      catalogId: null,
      systemModelId: null,
      origin: "MODEL_ORIGIN_WORKSPACE",
      visible: true,
      credentials,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
  }

  async duplicate(call: Call, req: DuplicateModelRequest): Promise<Model> {
    const created = await this.once(call.principal.workspaceId, DuplicateModelRequestSchema, req, async (idempotency) => {
      const source = await this.load(call.principal.workspaceId, req.id);
      this.requireLive(source);
      const copy = this.duplicateOf(call, source, req);
      return this.commit(call, RevisionAction.CREATE, undefined, copy, idempotency(copy.id));
    });
    return toModelMessage(created, call.principal.scopes);
  }

  // ---- batches (AIP-233/234/235)

  /**
   * Writes planned steps in one transaction, each standing alone: a step
   * whose write conflicts (stale, external id taken, request id reused) gets
   * its error and the others still commit. Past the call's deadline nothing
   * commits, so DeadlineExceeded means none of them was written.
   */
  async writeEach(steps: readonly Step[]): Promise<Array<ModelRecord | ConnectError>> {
    const writes = steps.filter(isWrite);
    const outcomes = writes.length === 0 ? [] : await this.store.writeEach(writes);
    let w = 0;
    const results: Array<ModelRecord | ConnectError> = [];
    for (const step of steps) {
      try {
        results.push(isWrite(step) ? await this.outcomeModel(step, outcomes[w++]!) : step);
      } catch (e) {
        results.push(ConnectError.from(e));
      }
    }
    return results;
  }

  /**
   * Runs a batch, whose items need the scope of `change`: all or nothing in
   * one transaction (the error names the failing item), or with allowPartial
   * each item with its own result — still in one transaction, so that a
   * deadline leaves nothing written either way.
   */
  private async batch<T>(
    call: Call,
    change: ModelChange,
    items: readonly T[],
    field: (i: number) => string,
    allowPartial: boolean,
    plan: (item: T) => Promise<Step>,
  ): Promise<BatchOutcome> {
    const { scopes } = call.principal;
    if (items.length > 0) requireChangeScopes(call.principal, [change], `a batch that would ${change} models`);
    // All the writes share one transaction, where a second write of a model would be stale: name the repeat instead.
    const writers = new Map<string, number>();
    const planOnce = async (item: T, i: number): Promise<Step> => {
      const step = await plan(item);
      if (!isWrite(step)) return step;
      const first = writers.get(step.model.id);
      if (first !== undefined) throw invalidArgument([{ field: "id", description: `repeats ${field(first)}: a batch writes each model once` }]);
      writers.set(step.model.id, i);
      return step;
    };
    if (allowPartial) {
      const planned: Array<Step | ConnectError> = [];
      for (const [i, item] of items.entries()) {
        try {
          planned.push(await planOnce(item, i));
        } catch (e) {
          planned.push(ConnectError.from(e));
        }
      }
      const written = await this.writeEach(planned.filter((p): p is Step => !(p instanceof ConnectError)));
      let s = 0;
      const results = planned.map((p) => {
        const r = p instanceof ConnectError ? p : written[s++]!;
        return r instanceof ConnectError ? r : toModelMessage(r, scopes);
      });
      return { results };
    }
    const steps: Step[] = [];
    for (const [i, item] of items.entries()) {
      try {
        steps.push(await planOnce(item, i));
      } catch (e) {
        throw indexedError(e, field(i));
      }
    }
    const writes = steps.filter(isWrite);
    const { outcomes, failedIndex } = await this.store.writeModels(writes);
    const models: ModelRecord[] = [];
    let w = 0;
    for (const [i, step] of steps.entries()) {
      if (!isWrite(step)) {
        models.push(step);
        continue;
      }
      const outcome = outcomes[w];
      if (failedIndex === w) {
        try {
          await this.outcomeModel(step, outcome!);
        } catch (e) {
          throw indexedError(e, field(i));
        }
      }
      models.push(failedIndex === undefined ? await this.outcomeModel(step, outcome!) : step.model);
      w++;
    }
    return { models: models.map((m) => toModelMessage(m, scopes)) };
  }

  private checkItem(call: Call, schema: DescMessage, item: Message & { workspaceId: string }): void {
    validateRequest(schema, item);
    if (item.workspaceId !== "" && item.workspaceId !== call.principal.workspaceId) {
      throw new ConnectError(`workspace "${item.workspaceId.slice(0, 128)}" is not the batch's workspace`, Code.PermissionDenied);
    }
  }

  batchCreate(call: Call, req: BatchCreateModelsRequest): Promise<BatchOutcome> {
    return this.batch(call, "create", req.requests, (i) => `requests[${i}]`, req.allowPartial, async (item) => {
      this.checkItem(call, CreateModelRequestSchema, item);
      return this.planCreate(call, false, item, CreateModelRequestSchema);
    });
  }

  batchUpdate(call: Call, req: BatchUpdateModelsRequest): Promise<BatchOutcome> {
    return this.batch(call, "update", req.requests, (i) => `requests[${i}]`, req.allowPartial, async (item) => {
      this.checkItem(call, UpdateModelRequestSchema, item);
      return this.planUpdate(call, call.principal.workspaceId, item, UpdateModelRequestSchema);
    });
  }

  batchDelete(call: Call, req: BatchDeleteModelsRequest): Promise<BatchOutcome> {
    checkDistinct(req.ids, (i) => `ids[${i}]`);
    const items = req.ids.map((id) => create(DeleteModelRequestSchema, { id }));
    return this.batch(call, "delete", items, (i) => `ids[${i}]`, req.allowPartial, async (item) => {
      validateRequest(DeleteModelRequestSchema, item);
      return this.planDelete(call, call.principal.workspaceId, item, DeleteModelRequestSchema);
    });
  }

  // ---- bundles

  /**
   * Makes the bundle's models exactly the listed ones (matched by externalId):
   * creates, updates and soft-deletes in one transaction, or only plans it.
   */
  async applyBundle(call: Call, req: ApplyBundleRequest): Promise<ApplyBundleResponse> {
    const { principal } = call;
    const workspaceId = principal.workspaceId;
    const existing = new Map<string | null, ModelRecord>();
    const bundle = {
      workspaceId,
      search: [],
      bundleKey: req.bundleKey,
      labels: [],
      showDeleted: false,
      showHidden: true,
      order: [],
      rankBySearch: false,
      descending: false,
      facets: false,
    };
    for await (const page of modelPages(this.store, bundle, maxPageSize)) for (const m of page) existing.set(m.externalId, m);
    const steps: Array<{ step: BundleAction; before?: ModelRecord; after: ModelRecord }> = [];
    const listed = new Set<string>();
    for (const [i, desired] of req.models.entries()) {
      const field = `models[${i}]`;
      const externalId = desired.metadata?.externalId;
      const model: Model = { ...desired, metadata: { ...desired.metadata!, bundleKey: req.bundleKey } };
      try {
        validateRequest(CreateModelRequestSchema, create(CreateModelRequestSchema, { model }));
        if (!externalId) throw invalidArgument([{ field: "metadata.externalId", description: "is required: bundle models are matched by it" }]);
        if (listed.has(externalId)) throw invalidArgument([{ field: "metadata.externalId", description: `"${externalId}" is listed twice` }]);
        if (desired.spec?.credentials) {
          throw invalidArgument([{ field: "spec.credentials", description: "are not part of a bundle: set them with RotateModelCredentials" }]);
        }
        listed.add(externalId);
        const before = existing.get(externalId) ?? (await this.store.findByExternalId(workspaceId, externalId));
        if (!before) {
          steps.push({ step: BundleAction.CREATE, after: this.newRecord(principal, false, model) });
        } else if (before.bundleKey !== req.bundleKey) {
          throw failedPrecondition(`externalId "${externalId}" belongs to model "${before.id}", which bundle "${req.bundleKey}" does not own`);
        } else {
          const after = applyUpdate(before, model, [...updatablePaths].filter((p) => p !== credentialsPath));
          const changed = fieldChanges(before, after).length > 0;
          steps.push({ step: changed ? BundleAction.UPDATE : BundleAction.UNCHANGED, before, after: changed ? after : before });
        }
      } catch (e) {
        throw indexedError(e, field);
      }
    }
    const now = this.clock();
    for (const [externalId, before] of existing) {
      if (externalId !== null && !listed.has(externalId)) {
        steps.push({ step: BundleAction.DELETE, before, after: { ...before, deleteTime: now, purgeTime: now + this.options.purgeAfterMs } });
      }
    }
    const changeOf: Partial<Record<BundleAction, ModelChange>> = { [BundleAction.CREATE]: "create", [BundleAction.UPDATE]: "update", [BundleAction.DELETE]: "delete" };
    requireChangeScopes(principal, steps.flatMap((s) => changeOf[s.step] ?? []), `applying bundle "${req.bundleKey}"`);
    const count = (a: BundleAction) => steps.filter((s) => s.step === a).length;
    const actionOf = { [BundleAction.CREATE]: RevisionAction.CREATE, [BundleAction.UPDATE]: RevisionAction.UPDATE, [BundleAction.DELETE]: RevisionAction.DELETE };
    let results = steps.map((s) => s.after);
    if (!req.dryRun) {
      const writing = steps.filter((s) => s.step !== BundleAction.UNCHANGED);
      const writes = writing.map((s) => this.modelWrite(call, actionOf[s.step as keyof typeof actionOf], s.before, s.after));
      const { outcomes, failedIndex } = await this.store.writeModels(writes);
      if (failedIndex !== undefined) await this.outcomeModel(writes[failedIndex]!, outcomes[failedIndex]!);
      const written = new Map(writes.map((w) => [w.model.id, w.model]));
      results = steps.map((s) => written.get(s.after.id) ?? s.after);
    }
    return create(ApplyBundleResponseSchema, {
      createdCount: count(BundleAction.CREATE),
      updatedCount: count(BundleAction.UPDATE),
      deletedCount: count(BundleAction.DELETE),
      unchangedCount: count(BundleAction.UNCHANGED),
      models: results.filter((m) => m.deleteTime === null).map((m) => toModelMessage(m, principal.scopes)),
      plan: steps.map((s) => ({
        externalId: s.after.externalId ?? "",
        modelId: s.before?.id ?? (req.dryRun ? "" : s.after.id),
        action: s.step,
        changedFields: s.step === BundleAction.UPDATE ? fieldChanges(s.before, s.after).map((c) => c.field) : [],
      })),
      dryRun: req.dryRun,
    });
  }

  /** Reloads the platform catalog file and reconciles every workspace. */
  async refreshCatalog(): Promise<RefreshCatalogResponse> {
    const result = await this.syncCatalog(loadPlatformCatalog());
    return create(RefreshCatalogResponseSchema, {
      addedCount: result.added,
      changedCount: result.changed,
      copiesCreatedCount: result.copiesCreated,
    });
  }

  // ---- system models

  async listSystem(principal: Principal, req: ListSystemModelsRequest): Promise<ListSystemModelsResponse> {
    const { page, pagination } = await this.page(
      {
        workspaceId: null,
        prefix: req.prefix || undefined,
        search: [],
        labels: [],
        showDeleted: req.showDeleted,
        showHidden: true,
        order: [],
        rankBySearch: false,
        descending: false,
        facets: false,
      },
      req.cursor,
      req.limit,
    );
    return create(ListSystemModelsResponseSchema, { items: page.map((r) => toModelMessage(r, principal.scopes)), pagination });
  }

  async getSystem(principal: Principal, id: string): Promise<Model> {
    return toModelMessage(await this.load(null, id), principal.scopes);
  }
}
