import { randomBytes } from "node:crypto";
import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ulid } from "ulid";
import { ModelStatus, type Credentials as CredentialsMessage, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  CreateModelRequestSchema,
  CreateSystemModelRequestSchema,
  DeleteModelRequestSchema,
  DeleteSystemModelRequestSchema,
  DuplicateModelRequestSchema,
  ListModelRevisionsResponseSchema,
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
  type CatalogSyncResult,
  type CopyContext,
  type CredentialRecord,
  type IdempotencyRecord,
  type ModelListQuery,
  type ModelRecord,
  type ModelStore,
  type WriteOutcome,
} from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { CredentialOpenError, fingerprint, type CredentialSealer, type Credentials } from "../credentials/credential-sealer.js";
import { invalidArgument } from "../validation/field-violations.js";
import { isBedrockUrl } from "./endpoint-rules.js";
import { ListCursors } from "./list-cursor.js";
import { newModelId } from "./model-id.js";
import { applyUpdate, copyEditablePaths, credentialsPath, resolveMask, specOf } from "./model-input.js";
import { etagOf, storedStatus, toModelMessage } from "./model-message.js";
import { defaultPageSize, maxPageSize, parseLabelSelector, parseSortOrder } from "./model-rules.js";
import { requestDigest } from "./request-ids.js";
import { fieldChanges } from "./revision-diff.js";

/** The profile id recorded as creator of the shipped platform catalog. */
export const systemProfileId = "profile_system";
const systemScope = "system";

/** Who is calling, and the request id their call is logged under. */
export interface Call {
  principal: Principal;
  requestId: string;
}

export interface RegistryOptions {
  sealer: CredentialSealer;
  /** How long a soft-deleted model stays restorable. */
  purgeAfterMs: number;
  clock?: () => number;
}

function notFound(id: string): ConnectError {
  return new ConnectError(`model "${id}" not found`, Code.NotFound);
}

function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

function pageSize(limit: number): number {
  return Math.min(limit === 0 ? defaultPageSize : limit, maxPageSize);
}

/**
 * The model catalog of every workspace: the copies of the platform's system
 * models and the workspace's own models, with their status, credentials and
 * history. Requests arrive authorized and validated.
 */
export class ModelRegistry {
  /** Workspace id -> owning account, for workspaces known to exist. */
  private readonly workspaceAccounts = new Map<string, string>();
  private readonly clock: () => number;

  private constructor(
    private readonly store: ModelStore,
    private readonly cursors: ListCursors,
    private readonly fingerprintKey: Uint8Array,
    private readonly options: RegistryOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  static async open(store: ModelStore, options: RegistryOptions): Promise<ModelRegistry> {
    const newKey = () => randomBytes(32).toString("base64");
    const cursorKey = await store.secret("list-cursor-key", newKey);
    const fingerprintKey = await store.secret("credential-fingerprint-key", newKey);
    return new ModelRegistry(store, new ListCursors(Buffer.from(cursorKey, "base64")), Buffer.from(fingerprintKey, "base64"), options);
  }

  private copyContext(): CopyContext {
    return { newId: newModelId, now: this.clock() };
  }

  /** Stores the catalog of this release; new entries reach every existing workspace. */
  syncCatalog(entries: CatalogEntryRecord[]): Promise<CatalogSyncResult> {
    return this.store.syncCatalog(entries, this.copyContext());
  }

  /** Removes soft-deleted models past their purge time. */
  purgeDeleted(): Promise<number> {
    return this.store.purgeDeleted(this.clock());
  }

  /**
   * Lets the caller into its workspace: creates it with the whole catalog on
   * first use, and refuses a token that names it under another account.
   */
  async admitWorkspace(principal: Principal): Promise<void> {
    let accountId = this.workspaceAccounts.get(principal.workspaceId);
    if (accountId === undefined) {
      const workspace = await this.store.ensureWorkspace({ id: principal.workspaceId, accountId: principal.accountId }, this.copyContext());
      accountId = workspace.accountId;
      this.workspaceAccounts.set(workspace.id, accountId);
    }
    if (accountId !== principal.accountId) {
      throw new ConnectError(`workspace "${principal.workspaceId}" belongs to another account`, Code.PermissionDenied);
    }
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
    const { models, total } = await this.store.listModels({ ...query, limit: size + 1, after });
    const page = models.slice(0, size);
    const last = page[page.length - 1];
    const nextCursor = models.length > size && last ? this.cursors.encode({ createdAt: last.createdAt, id: last.id }, digest) : "";
    return { page, pagination: { nextCursor, total } };
  }

  async list(principal: Principal, req: ListModelsRequest): Promise<ListModelsResponse> {
    const { page, pagination } = await this.page(
      {
        workspaceId: principal.workspaceId,
        prefix: req.prefix || undefined,
        queryTerms: req.query.toLowerCase().split(/\s+/).filter((t) => t !== ""),
        descending: parseSortOrder(req.sortOrder) === "desc",
        status: req.status === ModelStatus.UNSPECIFIED ? undefined : storedStatus(req.status),
        bundleKey: req.bundleKey || undefined,
        labels: [...(parseLabelSelector(req.labels) as Array<[string, string]>)].sort(),
        showDeleted: req.showDeleted,
        showHidden: false,
      },
      req.cursor,
      req.limit,
    );
    return create(ListModelsResponseSchema, { items: page.map((r) => toModelMessage(r, principal.scopes)), pagination });
  }

  private async load(workspaceId: string | null, id: string): Promise<ModelRecord> {
    const found = await this.store.getModel(workspaceId, id);
    if (!found) throw notFound(id);
    return found;
  }

  async get(principal: Principal, id: string): Promise<Model> {
    return toModelMessage(await this.load(principal.workspaceId, id), principal.scopes);
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
        nextCursor: revisions.length > size && last ? this.cursors.encode({ createdAt: last.createdAt, id: last.id }, digest) : "",
        total,
      },
    });
  }

  // ---- writes

  /** Writes a new version of a model with its audit record; maps the store's outcomes to errors. */
  private async commit(
    call: Call,
    action: RevisionAction,
    before: ModelRecord | undefined,
    after: ModelRecord,
    idempotency?: IdempotencyRecord,
  ): Promise<ModelRecord> {
    const now = this.clock();
    const model: ModelRecord = before ? { ...after, version: before.version + 1, updatedAt: now } : after;
    const outcome: WriteOutcome = await this.store.writeModel({
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
      copies: model.workspaceId === null ? this.copyContext() : undefined,
    });
    switch (outcome.kind) {
      case "written":
        return outcome.model;
      case "stale":
        throw new ConnectError(`model "${model.id}" was changed by another request; read it again`, Code.Aborted);
      case "external-id-taken":
        throw new ConnectError(`another model of the workspace has externalId "${model.externalId}"`, Code.AlreadyExists);
      case "request-id-taken":
        return this.replay(outcome.record, idempotency!.requestHash, model.workspaceId);
    }
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
  private async once(
    scope: string,
    schema: DescMessage,
    req: Message & { requestId: string },
    write: (idempotency: (modelId: string) => IdempotencyRecord | undefined) => Promise<ModelRecord>,
  ): Promise<ModelRecord> {
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

  private async createIn(call: Call, system: boolean, req: CreateModelRequest | CreateSystemModelRequest, schema: DescMessage): Promise<Model> {
    const scope = system ? systemScope : call.principal.workspaceId;
    const created = await this.once(scope, schema, req, async (idempotency) => {
      const record = this.newRecord(call.principal, system, req.model!);
      if (!req.validateOnly) return this.commit(call, RevisionAction.CREATE, undefined, record, idempotency(record.id));
      await this.checkExternalIdFree(record);
      return record;
    });
    return toModelMessage(created, call.principal.scopes);
  }

  create(call: Call, req: CreateModelRequest): Promise<Model> {
    return this.createIn(call, false, req, CreateModelRequestSchema);
  }

  createSystem(call: Call, req: CreateSystemModelRequest): Promise<Model> {
    return this.createIn(call, true, req, CreateSystemModelRequestSchema);
  }

  private async updateIn(
    call: Call,
    workspaceId: string | null,
    req: UpdateModelRequest | UpdateSystemModelRequest,
    schema: DescMessage,
  ): Promise<Model> {
    const body = req.model!;
    const paths = resolveMask(req.updateMask, body, "model");
    if (paths.length > 0 && typeof paths[0] !== "string") throw invalidArgument(paths as Exclude<typeof paths, string[]>);
    const updated = await this.once(workspaceId ?? systemScope, schema, req, async (idempotency) => {
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
      return this.commit(call, RevisionAction.UPDATE, record, next, idempotency(record.id));
    });
    return toModelMessage(updated, call.principal.scopes);
  }

  update(call: Call, req: UpdateModelRequest): Promise<Model> {
    return this.updateIn(call, call.principal.workspaceId, req, UpdateModelRequestSchema);
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

  private async deleteIn(call: Call, workspaceId: string | null, req: DeleteModelRequest | DeleteSystemModelRequest, schema: DescMessage): Promise<Model> {
    const deleted = await this.once(workspaceId ?? systemScope, schema, req, async (idempotency) => {
      const record = await this.load(workspaceId, req.id);
      if (record.deleteTime !== null) throw notFound(req.id);
      if (record.workspaceId !== null && record.origin === "MODEL_ORIGIN_SYSTEM") {
        throw failedPrecondition(`model "${record.id}" belongs to the platform and cannot be deleted; disable it instead`);
      }
      this.checkEtag(record, req.etag);
      const now = this.clock();
      const next = { ...record, deleteTime: now, purgeTime: now + this.options.purgeAfterMs };
      return this.commit(call, RevisionAction.DELETE, record, next, idempotency(record.id));
    });
    return toModelMessage(deleted, call.principal.scopes);
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

  // ---- system models

  async listSystem(principal: Principal, req: ListSystemModelsRequest): Promise<ListSystemModelsResponse> {
    const { page, pagination } = await this.page(
      {
        workspaceId: null,
        prefix: req.prefix || undefined,
        queryTerms: [],
        descending: false,
        labels: [],
        showDeleted: req.showDeleted,
        showHidden: true,
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
