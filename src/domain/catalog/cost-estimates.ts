import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { PreconditionFailureSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  BatchEstimateCostResponseSchema,
  EstimateCostRequestSchema,
  EstimateCostResponseSchema,
  ListModelsRequestSchema,
  type BatchEstimateCostRequest,
  type BatchEstimateCostResponse,
  type EstimateCostRequest,
  type EstimateCostResponse,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { Principal } from "../auth/principal.js";
import { indexedError } from "../models/model-batches.js";
import type { ModelRegistry } from "../models/model-registry.js";
import { invalidArgument } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { estimateCost, sumUsd, UnpricedUsageError, type PricedModel } from "./cost-estimate.js";

/**
 * A catalog id ("provider/family", or the id of a system model an admin
 * created): printable, without the quotes, backslashes and wildcards a filter
 * value would read as syntax.
 */
const catalogIdPattern = /^[^\s"\\*\p{Cc}]+$/u;

/** The prices EstimateCost reads from a model as GetModel returns it (the workspace's override already applied). */
function pricedModel(model: Model): PricedModel {
  return { pricing: model.spec?.pricing, priceHistory: model.spec?.priceHistory ?? [] };
}

/** InvalidArgument unless the request names its model once: by id or by a well-formed catalog id. */
function checkTarget(req: EstimateCostRequest): void {
  if (req.id !== "" && req.catalogId !== "") throw invalidArgument([{ field: "catalogId", description: "give id or catalogId, not both" }]);
  if (req.id === "" && req.catalogId === "") throw invalidArgument([{ field: "id", description: "is required: give id or catalogId" }]);
  if (req.id === "" && !catalogIdPattern.test(req.catalogId)) {
    throw invalidArgument([{ field: "catalogId", description: "is not a catalog id: spaces, quotes, backslashes and * never appear in one" }]);
  }
}

/** EstimateCost and BatchEstimateCost: a model's prices applied to a usage, exactly. */
export class CostEstimates {
  constructor(private readonly registry: ModelRegistry) {}

  /** The workspace's model named by id, or by catalog id (its copy of that catalog model). */
  private async model(principal: Principal, req: EstimateCostRequest): Promise<Model> {
    checkTarget(req);
    if (req.id !== "") return this.registry.get(principal, req.id);
    const filter = `metadata.origin = MODEL_ORIGIN_SYSTEM AND metadata.catalogId = ${JSON.stringify(req.catalogId)}`;
    const page = await this.registry.list(principal, create(ListModelsRequestSchema, { filter, limit: 1 }));
    const found = page.items.find((m) => m.metadata?.catalogId === req.catalogId && m.metadata.origin === ModelOrigin.SYSTEM);
    if (!found) throw new ConnectError(`catalogId "${req.catalogId}": no catalog model of the workspace has this id`, Code.NotFound);
    return found;
  }

  private answer(model: Model, req: EstimateCostRequest): EstimateCostResponse {
    const at = req.time ? timestampMs(req.time) : Date.now();
    let estimate;
    try {
      estimate = estimateCost(pricedModel(model), req.usage!, at);
    } catch (e) {
      if (!(e instanceof UnpricedUsageError)) throw e;
      const violations = e.missing.map((m) => ({ type: "PRICE_UNKNOWN", subject: m.field, description: `no ${m.component} price` }));
      throw new ConnectError(`model "${model.metadata?.id}": ${e.message}`, Code.FailedPrecondition, undefined, [
        { desc: PreconditionFailureSchema, value: create(PreconditionFailureSchema, { violations }) },
      ]);
    }
    return create(EstimateCostResponseSchema, {
      modelId: model.metadata?.id ?? "",
      catalogId: model.metadata?.catalogId,
      totalUsd: estimate.totalUsd,
      components: estimate.components,
      contextTierAboveInputTokens: estimate.contextTierAboveInputTokens,
      priceEffectiveFrom: estimate.priceEffectiveFrom,
      overrideApplied: model.spec?.priceOverride !== undefined,
    });
  }

  async estimate(principal: Principal, req: EstimateCostRequest): Promise<EstimateCostResponse> {
    return this.answer(await this.model(principal, req), req);
  }

  /** Every request is checked before any is priced; one failing request fails the batch, named by its index. */
  async batch(principal: Principal, req: BatchEstimateCostRequest): Promise<BatchEstimateCostResponse> {
    for (const [i, item] of req.requests.entries()) {
      try {
        validateRequest(EstimateCostRequestSchema, item);
        checkTarget(item);
        if (item.workspaceId !== "" && item.workspaceId !== principal.workspaceId) {
          throw new ConnectError(`workspace "${item.workspaceId.slice(0, 128)}" is not the batch's workspace`, Code.PermissionDenied);
        }
      } catch (e) {
        throw indexedError(e, `requests[${i}]`);
      }
    }
    const models = new Map<string, Promise<Model>>();
    const estimates: EstimateCostResponse[] = [];
    for (const [i, item] of req.requests.entries()) {
      try {
        const key = item.id !== "" ? `id\0${item.id}` : `catalog\0${item.catalogId}`;
        let model = models.get(key);
        if (!model) {
          model = this.model(principal, item);
          models.set(key, model);
        }
        estimates.push(this.answer(await model, item));
      } catch (e) {
        throw indexedError(e, `requests[${i}]`);
      }
    }
    return create(BatchEstimateCostResponseSchema, { estimates, totalUsd: sumUsd(estimates.map((e) => e.totalUsd)) });
  }
}
