import { create } from "@bufbuild/protobuf";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  ApplyBundleResponseSchema,
  BundleAction,
  CreateModelRequestSchema,
  RevisionAction,
  type ApplyBundleRequest,
  type ApplyBundleResponse,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { ModelRecord, ModelStore } from "../../storage/model-store.js";
import { requireChangeScopes, type ModelChange } from "../auth/change-scopes.js";
import { invalidArgument } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { modelPages } from "./model-pages.js";
import { applyUpdate, credentialsPath, updatablePaths } from "./model-input.js";
import { toModelMessage } from "./model-message.js";
import { maxPageSize } from "./model-rules.js";
import { fieldChanges } from "./revision-diff.js";
import type { Call, ModelCommits } from "./model-commits.js";
import { indexedError } from "./model-batches.js";
import { failedPrecondition, type ModelWrites } from "./model-writes.js";

/** ApplyBundle: a bundle's models made exactly the listed ones. */
export class ModelBundles {
  constructor(
    private readonly store: ModelStore,
    private readonly commits: ModelCommits,
    private readonly writes: ModelWrites,
    /** How long a soft-deleted model stays restorable. */
    private readonly purgeAfterMs: number,
    private readonly clock: () => number,
  ) {}

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
          steps.push({ step: BundleAction.CREATE, after: this.writes.newRecord(principal, false, model) });
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
        steps.push({ step: BundleAction.DELETE, before, after: { ...before, deleteTime: now, purgeTime: now + this.purgeAfterMs } });
      }
    }
    const changeOf: Partial<Record<BundleAction, ModelChange>> = { [BundleAction.CREATE]: "create", [BundleAction.UPDATE]: "update", [BundleAction.DELETE]: "delete" };
    requireChangeScopes(principal, steps.flatMap((s) => changeOf[s.step] ?? []), `applying bundle "${req.bundleKey}"`);
    const count = (a: BundleAction) => steps.filter((s) => s.step === a).length;
    const actionOf = { [BundleAction.CREATE]: RevisionAction.CREATE, [BundleAction.UPDATE]: RevisionAction.UPDATE, [BundleAction.DELETE]: RevisionAction.DELETE };
    let results = steps.map((s) => s.after);
    if (!req.dryRun) {
      const writing = steps.filter((s) => s.step !== BundleAction.UNCHANGED);
      const writes = writing.map((s) => this.commits.modelWrite(call, actionOf[s.step as keyof typeof actionOf], s.before, s.after));
      const { outcomes, failedIndex } = await this.store.writeModels(writes);
      if (failedIndex !== undefined) await this.commits.outcomeModel(writes[failedIndex]!, outcomes[failedIndex]!);
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
}
