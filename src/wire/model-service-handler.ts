import type { ServiceImpl } from "@connectrpc/connect";
import { ModelSchema, ModelStatus } from "../../gen/modelservice/v1/model_pb.js";
import { ListModelsResponseSchema, type ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import { CostEstimates } from "../domain/catalog/cost-estimates.js";
import type { ModelDrafts } from "../domain/models/model-drafts.js";
import type { ModelRegistry } from "../domain/models/model-registry.js";
import type { ModelTransfer } from "../domain/models/model-transfer.js";
import type { ModelWatch } from "../domain/watch/model-watch.js";
import { batchResponse } from "./batch-response.js";
import { encodedAnswer } from "./encoded-answers.js";
import { callOf, principalOf } from "./principal-context.js";

/** ModelService: translates calls to the domain (registry, drafts, transfer); requests arrive authorized and validated. */
export function modelServiceHandler(
  registry: ModelRegistry,
  drafts: ModelDrafts,
  transfer: ModelTransfer,
  watch: ModelWatch,
): ServiceImpl<typeof ModelService> {
  const costs = new CostEstimates(registry);
  return {
    // The two hot reads: their answers come from the read cache, so their encoded form is kept too.
    listModels: async (req, ctx) => encodedAnswer(ListModelsResponseSchema, await registry.list(principalOf(ctx), req), ctx),
    getModel: async (req, ctx) => encodedAnswer(ModelSchema, await registry.get(principalOf(ctx), req.id), ctx),
    setModelStatus: (req, ctx) => registry.setStatus(callOf(ctx), req.id, req.status as ModelStatus.ENABLED | ModelStatus.DISABLED),
    enableModel: (req, ctx) => registry.setStatus(callOf(ctx), req.id, ModelStatus.ENABLED),
    disableModel: (req, ctx) => registry.setStatus(callOf(ctx), req.id, ModelStatus.DISABLED),
    createModel: (req, ctx) => registry.create(callOf(ctx), req),
    updateModel: (req, ctx) => registry.update(callOf(ctx), req),
    rotateModelCredentials: (req, ctx) => registry.rotateCredentials(callOf(ctx), req),
    deleteModel: (req, ctx) => registry.delete(callOf(ctx), req),
    undeleteModel: (req, ctx) => registry.undelete(callOf(ctx), req),
    duplicateModel: (req, ctx) => registry.duplicate(callOf(ctx), req),
    listModelRevisions: (req, ctx) => registry.listRevisions(principalOf(ctx), req),
    listSystemModels: (req, ctx) => registry.listSystem(principalOf(ctx), req),
    getSystemModel: (req, ctx) => registry.getSystem(principalOf(ctx), req.id),
    createSystemModel: (req, ctx) => registry.createSystem(callOf(ctx), req),
    updateSystemModel: (req, ctx) => registry.updateSystem(callOf(ctx), req),
    deleteSystemModel: (req, ctx) => registry.deleteSystem(callOf(ctx), req),
    batchCreateModels: async (req, ctx) => batchResponse(await registry.batchCreate(callOf(ctx), req)),
    batchUpdateModels: async (req, ctx) => batchResponse(await registry.batchUpdate(callOf(ctx), req)),
    batchDeleteModels: async (req, ctx) => batchResponse(await registry.batchDelete(callOf(ctx), req)),
    refreshCatalog: (req, ctx) => registry.refreshCatalog(callOf(ctx), req),
    applyBundle: (req, ctx) => registry.applyBundle(callOf(ctx), req),
    createModelDraft: (req, ctx) => drafts.create(callOf(ctx), req),
    updateModelDraft: (req, ctx) => drafts.update(callOf(ctx), req),
    listModelDrafts: (req, ctx) => drafts.list(principalOf(ctx), req),
    publishModelDraft: (req, ctx) => drafts.publish(callOf(ctx), req),
    deleteModelDraft: (req, ctx) => drafts.delete(callOf(ctx), req),
    exportModels: (req, ctx) => transfer.exportBodies(principalOf(ctx), req),
    importModels: (req, ctx) => transfer.import(callOf(ctx), req),
    watchModels: (req, ctx) => watch.watch(principalOf(ctx), req, ctx.signal),
    estimateCost: (req, ctx) => costs.estimate(principalOf(ctx), req),
    batchEstimateCost: (req, ctx) => costs.batch(principalOf(ctx), req),
    acknowledgeUpstreamChange: (req, ctx) => registry.acknowledgeUpstreamChange(callOf(ctx), req),
  };
}
