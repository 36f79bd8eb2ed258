import { clone, clearField, create, fromJsonString, isFieldSet, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromMs, type Empty } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { monotonicFactory } from "ulid";
import { ModelSchema, ModelSpecSchema, ResourceMetadataSchema, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  CreateModelRequestSchema,
  ListModelDraftsResponseSchema,
  ModelDraftSchema,
  UpdateModelRequestSchema,
  type CreateModelDraftRequest,
  type DeleteModelDraftRequest,
  type ListModelDraftsRequest,
  type ListModelDraftsResponse,
  type ModelDraft,
  type PublishModelDraftRequest,
  type UpdateModelDraftRequest,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { DraftRecord, DraftStore } from "../../storage/draft-store.js";
import { DeadlinePassed } from "../errors/store-errors.js";
import { requireChangeScopes } from "../auth/change-scopes.js";
import type { Principal } from "../auth/principal.js";
import { invalidArgument, type FieldViolation } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { credentialsPath, resolveMask } from "./model-input.js";
import type { Call, ModelRegistry } from "./model-registry.js";
import { modelRuleViolations } from "./model-rules.js";

const draftPrefix = "draft_";
const nextUlid = monotonicFactory();

/** A price is given in cents or in exact dollars: changing one in a draft drops the other, so they never disagree. */
const pricePairs = [
  ["spec.input_price_per_million_tokens", "spec.input_price_per_million_tokens_usd"],
  ["spec.output_price_per_million_tokens", "spec.output_price_per_million_tokens_usd"],
  ["spec.cached_input_price_per_million_tokens", "spec.cached_input_price_per_million_tokens_usd"],
] as const;

function notFound(id: string): ConnectError {
  return new ConnectError(`draft "${id.slice(0, 64)}" not found`, Code.NotFound);
}

/** Aborted, carrying the current draft as an error detail so the caller can rebase without another read. */
function staleVersion(current: ModelDraft, expected: number): ConnectError {
  return new ConnectError(
    `draft "${current.id}" is at version ${current.version}, not ${expected}; apply the change to the current version`,
    Code.Aborted,
    undefined,
    [{ desc: ModelDraftSchema, value: current }],
  );
}

/** A draft write is one statement: made only while the call is within its deadline, so DeadlineExceeded means it was not. */
function requireWithinDeadline(call: Call): void {
  if (call.deadline !== undefined && Date.now() >= call.deadline) throw new DeadlinePassed();
}

const credentialsRefused: FieldViolation = {
  field: "model.spec.credentials",
  description: "are not kept in drafts: set them with UpdateModel or RotateModelCredentials once the model is published",
};

/** Copies `paths` of one part (metadata or spec) from `from` to `to`; a path `from` does not set is cleared. */
function copyFields<Desc extends DescMessage>(schema: Desc, to: MessageShape<Desc>, from: MessageShape<Desc> | undefined, names: string[]): void {
  for (const name of names) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) continue;
    if (from && isFieldSet(from, field)) (to as Record<string, unknown>)[field.localName] = (from as Record<string, unknown>)[field.localName];
    else clearField(to, field);
  }
}

/** `target` with the values of `body` at the update paths ("metadata.name", "spec.family", …). */
function applyPaths(target: Model, body: Model, paths: readonly string[]): Model {
  const out = clone(ModelSchema, target);
  const src = clone(ModelSchema, body);
  const names = (part: string) => paths.filter((p) => p.startsWith(part + ".")).map((p) => p.slice(part.length + 1));
  const metadata = names("metadata");
  if (metadata.length > 0) copyFields(ResourceMetadataSchema, (out.metadata ??= create(ResourceMetadataSchema)), src.metadata, metadata);
  const spec = names("spec");
  if (spec.length > 0) copyFields(ModelSpecSchema, (out.spec ??= create(ModelSpecSchema)), src.spec, spec);
  return out;
}

/** The paths, plus the other half of every price pair the paths change only half of (it is cleared). */
function withPairedPrices(paths: readonly string[]): string[] {
  const out = new Set(paths);
  for (const [cents, usd] of pricePairs) {
    if (out.has(cents) !== out.has(usd)) {
      out.add(cents);
      out.add(usd);
    }
  }
  return [...out];
}

/** What a Model in a draft request must obey: the value rules of an update body; a name may still be empty. */
function contentViolations(body: Model): FieldViolation[] {
  if (body.spec?.credentials !== undefined) return [credentialsRefused];
  return modelRuleViolations(UpdateModelRequestSchema, create(UpdateModelRequestSchema, { model: body }));
}

/**
 * Model drafts: a model edited in steps before it is published, visible to
 * its author only (another profile's draft is NotFound). A draft is a new
 * model, or a copy of an existing one with that model's etag, so that
 * publishing cannot overwrite a change made since. Publishing goes through
 * the registry's CreateModel / UpdateModel rules. Requests arrive authorized
 * (models:create) and validated by their descriptors.
 */
export class ModelDrafts {
  constructor(
    private readonly store: DraftStore,
    private readonly registry: ModelRegistry,
    private readonly clock: () => number = Date.now,
  ) {}

  private toMessage(r: DraftRecord): ModelDraft {
    return create(ModelDraftSchema, {
      id: r.id,
      workspaceId: r.workspaceId,
      profileId: r.profileId,
      baseModelId: r.baseModelId ?? "",
      baseEtag: r.baseEtag ?? "",
      model: fromJsonString(ModelSchema, r.model),
      version: r.version,
      createTime: timestampFromMs(r.createdAt),
      updateTime: timestampFromMs(r.updatedAt),
    });
  }

  /** A workspace id that got past auth yet is not the token's own is malformed (auth refuses other valid ones). */
  private checkWorkspace(principal: Principal, workspaceId: string): void {
    if (workspaceId !== "" && workspaceId !== principal.workspaceId) {
      throw invalidArgument([{ field: "workspaceId", description: "is not a valid workspace id" }]);
    }
  }

  private async load(principal: Principal, id: string): Promise<DraftRecord> {
    const found = await this.store.get(principal.workspaceId, principal.profileId, id);
    if (!found) throw notFound(id);
    return found;
  }

  async create(call: Call, req: CreateModelDraftRequest): Promise<ModelDraft> {
    const { principal } = call;
    this.checkWorkspace(principal, req.workspaceId);
    const body = req.model;
    if (body) {
      const violations = contentViolations(body);
      if (violations.length > 0) throw invalidArgument(violations);
    }
    let model = create(ModelSchema, { metadata: {} });
    let baseModelId: string | null = null;
    let baseEtag: string | null = null;
    if (req.modelId !== "") {
      const base = await this.registry.get(principal, req.modelId);
      if (base.metadata?.deleteTime !== undefined) {
        throw new ConnectError(`model "${req.modelId}" is deleted; undelete it first`, Code.FailedPrecondition);
      }
      model = base;
      baseModelId = req.modelId;
      baseEtag = base.metadata?.etag ?? "";
    }
    if (body) model = applyPaths(model, body, withPairedPrices(resolveMask(undefined, body, "model") as string[]));
    const now = this.clock();
    const record: DraftRecord = {
      id: draftPrefix + nextUlid(now),
      workspaceId: principal.workspaceId,
      profileId: principal.profileId,
      baseModelId,
      baseEtag,
      model: toJsonString(ModelSchema, model),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    requireWithinDeadline(call);
    await this.store.insert(record);
    return this.toMessage(record);
  }

  async update(call: Call, req: UpdateModelDraftRequest): Promise<ModelDraft> {
    const { principal } = call;
    this.checkWorkspace(principal, req.workspaceId);
    const body = req.model ?? create(ModelSchema);
    const violations = contentViolations(body);
    if (violations.length > 0) throw invalidArgument(violations);
    const paths = resolveMask(req.updateMask, body, "model");
    if (paths.length > 0 && typeof paths[0] !== "string") throw invalidArgument(paths as FieldViolation[]);
    if ((paths as string[]).includes(credentialsPath)) throw invalidArgument([{ ...credentialsRefused, field: "updateMask" }]);

    const draft = await this.load(principal, req.id);
    if (draft.version !== req.expectedVersion) throw staleVersion(this.toMessage(draft), req.expectedVersion);
    const next = applyPaths(fromJsonString(ModelSchema, draft.model), body, withPairedPrices(paths as string[]));
    requireWithinDeadline(call);
    const outcome = await this.store.update({
      workspaceId: principal.workspaceId,
      profileId: principal.profileId,
      id: draft.id,
      expectedVersion: req.expectedVersion,
      model: toJsonString(ModelSchema, next),
      updatedAt: this.clock(),
    });
    switch (outcome.kind) {
      case "updated":
        return this.toMessage(outcome.draft);
      case "missing":
        throw notFound(req.id);
      case "stale": {
        // Changed between the read and the write: report the version that won.
        const current = await this.store.get(principal.workspaceId, principal.profileId, draft.id);
        if (!current) throw notFound(req.id);
        throw staleVersion(this.toMessage(current), req.expectedVersion);
      }
    }
  }

  async list(principal: Principal, req: ListModelDraftsRequest): Promise<ListModelDraftsResponse> {
    this.checkWorkspace(principal, req.workspaceId);
    const drafts = await this.store.list(principal.workspaceId, principal.profileId);
    return create(ListModelDraftsResponseSchema, { items: drafts.map((d) => this.toMessage(d)) });
  }

  /**
   * Creates the model of a new-model draft, or updates the draft's base model
   * guarded by the etag it had when the draft was made; then removes the
   * draft. The draft id is the request id of the write, so a publish retried
   * after the write (the draft still there) returns the same model.
   */
  async publish(call: Call, req: PublishModelDraftRequest): Promise<Model> {
    const { principal } = call;
    this.checkWorkspace(principal, req.workspaceId);
    const draft = await this.load(principal, req.id);
    requireChangeScopes(
      principal,
      [draft.baseModelId === null ? "create" : "update"],
      draft.baseModelId === null ? "publishing the draft creates a model" : `publishing the draft updates model "${draft.baseModelId}"`,
    );
    if (req.expectedVersion !== 0 && req.expectedVersion !== draft.version) throw staleVersion(this.toMessage(draft), req.expectedVersion);
    const content = fromJsonString(ModelSchema, draft.model);
    content.metadata ??= create(ResourceMetadataSchema);
    let published: Model;
    if (draft.baseModelId === null) {
      const request = create(CreateModelRequestSchema, { model: content, requestId: draft.id });
      validateRequest(CreateModelRequestSchema, request);
      published = await this.registry.create(call, request);
    } else {
      const model = clone(ModelSchema, content);
      model.metadata!.etag = draft.baseEtag ?? "";
      const request = create(UpdateModelRequestSchema, {
        id: draft.baseModelId,
        model,
        updateMask: { paths: ["*"] },
        requestId: draft.id,
      });
      validateRequest(UpdateModelRequestSchema, request);
      published = await this.registry.update(call, request);
    }
    await this.store.delete(principal.workspaceId, principal.profileId, draft.id);
    return published;
  }

  async delete(call: Call, req: DeleteModelDraftRequest): Promise<Empty> {
    const { principal } = call;
    this.checkWorkspace(principal, req.workspaceId);
    requireWithinDeadline(call);
    if (!(await this.store.delete(principal.workspaceId, principal.profileId, req.id))) throw notFound(req.id);
    return create(EmptySchema);
  }
}
