import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ModelStatus, type Credentials as CredentialsMessage, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  CreateModelRequestSchema,
  CreateSystemModelRequestSchema,
  DeleteModelRequestSchema,
  DeleteSystemModelRequestSchema,
  DuplicateModelRequestSchema,
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
  type RotateModelCredentialsRequest,
  type UndeleteModelRequest,
  type UpdateModelRequest,
  type AcknowledgeUpstreamChangeRequest,
  type UpdateSystemModelRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import { noCredentials, type CredentialRecord, type ModelRecord, type ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { CredentialOpenError, fingerprint, type Credentials } from "../credentials/credential-sealer.js";
import { invalidArgument } from "../validation/field-violations.js";
import { isBedrockUrl } from "./endpoint-rules.js";
import { newModelId } from "./model-id.js";
import { applyUpdate, copyEditablePaths, credentialsPath, priceOverridePath, resolveMask, specOf } from "./model-input.js";
import { etagOf, storedStatus, toModelMessage } from "./model-message.js";
import { fieldChanges } from "./revision-diff.js";
import { systemScope, type Call, type ModelCommits, type Step } from "./model-commits.js";
import { notFound, type ModelReads } from "./model-reads.js";
import type { RegistryOptions } from "./model-registry.js";

export function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

/** Creates, updates, deletes, credentials, status and duplicates of single models, as writes or previews. */
export class ModelWrites {
  constructor(
    private readonly store: ModelStore,
    private readonly reads: ModelReads,
    private readonly commits: ModelCommits,
    /** The key of credential fingerprints, or why no configured encryption key opens it. */
    private readonly fingerprintKey: Uint8Array | CredentialOpenError,
    private readonly options: RegistryOptions,
    private readonly clock: () => number,
  ) {}

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

  newRecord(principal: Principal, system: boolean, body: Model): ModelRecord {
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
  planCreate(call: Call, system: boolean, req: CreateModelRequest | CreateSystemModelRequest, schema: DescMessage): Promise<Step> {
    const scope = system ? systemScope : call.principal.workspaceId;
    return this.commits.once(scope, schema, req, async (idempotency) => {
      const record = this.newRecord(call.principal, system, req.model!);
      if (!req.validateOnly) return this.commits.modelWrite(call, RevisionAction.CREATE, undefined, record, idempotency(record.id));
      await this.checkExternalIdFree(record);
      return record;
    });
  }

  private async createIn(call: Call, system: boolean, req: CreateModelRequest | CreateSystemModelRequest, schema: DescMessage): Promise<Model> {
    return toModelMessage(await this.commits.execute(await this.planCreate(call, system, req, schema)), call.principal.scopes);
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
  async planUpdate(
    call: Call,
    workspaceId: string | null,
    req: UpdateModelRequest | UpdateSystemModelRequest,
    schema: DescMessage,
  ): Promise<Step> {
    const body = req.model!;
    const paths = resolveMask(req.updateMask, body, "model");
    if (paths.length > 0 && typeof paths[0] !== "string") throw invalidArgument(paths as Exclude<typeof paths, string[]>);
    return this.commits.once(workspaceId ?? systemScope, schema, req, async (idempotency): Promise<Step> => {
      const record = await this.reads.load(workspaceId, req.id);
      this.requireLive(record);
      this.checkEtag(record, body.metadata?.etag);
      const isCopy = record.workspaceId !== null && record.origin === "MODEL_ORIGIN_SYSTEM";
      // On a platform model, "*" means what the workspace may change there.
      const everything = req.updateMask?.paths.includes("*") ?? false;
      let masked = isCopy && everything ? (paths as string[]).filter((p) => copyEditablePaths.has(p)) : (paths as string[]);
      if (isCopy) {
        const refused = masked.filter((p) => !copyEditablePaths.has(p));
        if (refused.length > 0) {
          throw failedPrecondition(
            `model "${record.id}" belongs to the platform: only labels, status and the price override can change here (not ${refused.join(", ")})`,
          );
        }
      } else if (masked.includes(priceOverridePath)) {
        // Only a catalog copy has catalog prices to override; "*" on any other model leaves the (unset) override alone.
        if (body.spec?.priceOverride !== undefined) {
          throw failedPrecondition(`model "${record.id}" is not a catalog model of a workspace: set spec.pricing instead of a price override`);
        }
        masked = masked.filter((p) => p !== priceOverridePath);
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
      return this.commits.modelWrite(call, RevisionAction.UPDATE, record, next, idempotency(record.id));
    });
  }

  private async updateIn(
    call: Call,
    workspaceId: string | null,
    req: UpdateModelRequest | UpdateSystemModelRequest,
    schema: DescMessage,
  ): Promise<Model> {
    return toModelMessage(await this.commits.execute(await this.planUpdate(call, workspaceId, req, schema)), call.principal.scopes);
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
    const rotated = await this.commits.once(call.principal.workspaceId, RotateModelCredentialsRequestSchema, req, async (idempotency) => {
      const record = await this.reads.load(call.principal.workspaceId, req.id);
      this.requireLive(record);
      this.checkEtag(record, req.etag);
      if (record.origin === "MODEL_ORIGIN_SYSTEM") throw failedPrecondition(`model "${record.id}" belongs to the platform`);
      if (record.spec.modelUrl === null) throw failedPrecondition(`model "${record.id}" has no modelUrl to use credentials with`);
      const next = { ...record, credentials: this.sealCredentials(record.id, req.credentials, record.spec.modelUrl) };
      return this.commits.commit(call, RevisionAction.ROTATE_CREDENTIALS, record, next, idempotency(record.id));
    });
    return toModelMessage(rotated, call.principal.scopes);
  }

  /**
   * Clears the catalog price change recorded under a copy's price override,
   * with a revision; a model with nothing to acknowledge is returned as it is.
   */
  async acknowledgeUpstreamChange(call: Call, req: AcknowledgeUpstreamChangeRequest): Promise<Model> {
    const record = await this.reads.load(call.principal.workspaceId, req.id);
    this.requireLive(record);
    this.checkEtag(record, req.etag);
    if (record.spec.upstreamChanged === null) return toModelMessage(record, call.principal.scopes);
    const next = { ...record, spec: { ...record.spec, upstreamChanged: null } };
    return toModelMessage(await this.commits.commit(call, RevisionAction.UPDATE, record, next), call.principal.scopes);
  }

  async setStatus(call: Call, id: string, status: ModelStatus.ENABLED | ModelStatus.DISABLED): Promise<Model> {
    const record = await this.reads.load(call.principal.workspaceId, id);
    this.requireLive(record);
    const wanted = storedStatus(status);
    if (record.status === wanted) return toModelMessage(record, call.principal.scopes);
    const updated = await this.commits.commit(call, RevisionAction.SET_STATUS, record, { ...record, status: wanted });
    return toModelMessage(updated, call.principal.scopes);
  }

  /** A soft delete as a write (or a replay). */
  planDelete(call: Call, workspaceId: string | null, req: DeleteModelRequest | DeleteSystemModelRequest, schema: DescMessage): Promise<Step> {
    return this.commits.once(workspaceId ?? systemScope, schema, req, async (idempotency): Promise<Step> => {
      const record = await this.reads.load(workspaceId, req.id);
      if (record.deleteTime !== null) throw notFound(req.id);
      if (record.workspaceId !== null && record.origin === "MODEL_ORIGIN_SYSTEM") {
        throw failedPrecondition(`model "${record.id}" belongs to the platform and cannot be deleted; disable it instead`);
      }
      this.checkEtag(record, req.etag);
      const now = this.clock();
      const next = { ...record, deleteTime: now, purgeTime: now + this.options.purgeAfterMs };
      return this.commits.modelWrite(call, RevisionAction.DELETE, record, next, idempotency(record.id));
    });
  }

  private async deleteIn(call: Call, workspaceId: string | null, req: DeleteModelRequest | DeleteSystemModelRequest, schema: DescMessage): Promise<Model> {
    return toModelMessage(await this.commits.execute(await this.planDelete(call, workspaceId, req, schema)), call.principal.scopes);
  }

  delete(call: Call, req: DeleteModelRequest): Promise<Model> {
    return this.deleteIn(call, call.principal.workspaceId, req, DeleteModelRequestSchema);
  }

  deleteSystem(call: Call, req: DeleteSystemModelRequest): Promise<Model> {
    return this.deleteIn(call, null, req, DeleteSystemModelRequestSchema);
  }

  async undelete(call: Call, req: UndeleteModelRequest): Promise<Model> {
    const restored = await this.commits.once(call.principal.workspaceId, UndeleteModelRequestSchema, req, async (idempotency) => {
      const record = await this.reads.load(call.principal.workspaceId, req.id);
      if (record.deleteTime === null) throw failedPrecondition(`model "${record.id}" is not deleted`);
      const next = { ...record, deleteTime: null, purgeTime: null };
      return this.commits.commit(call, RevisionAction.UNDELETE, record, next, idempotency(record.id));
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
    const created = await this.commits.once(call.principal.workspaceId, DuplicateModelRequestSchema, req, async (idempotency) => {
      const source = await this.reads.load(call.principal.workspaceId, req.id);
      this.requireLive(source);
      const copy = this.duplicateOf(call, source, req);
      return this.commits.commit(call, RevisionAction.CREATE, undefined, copy, idempotency(copy.id));
    });
    return toModelMessage(created, call.principal.scopes);
  }
}
