import { ModelStatus } from "../../gen/modelservice/v1/model_pb.js";
import type { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ModelRegistry } from "../domain/models/model-registry.js";
import { principalOf } from "./principal-context.js";

/** ModelService: translates calls to the registry; requests arrive authorized and validated. */
export function modelServiceHandler(registry: ModelRegistry): ServiceImpl<typeof ModelService> {
  return {
    listModels: (req, ctx) => registry.list(principalOf(ctx), req),
    getModel: (req, ctx) => registry.get(principalOf(ctx), req.id),
    setModelStatus: (req, ctx) =>
      registry.setStatus(principalOf(ctx), req.id, req.status as ModelStatus.ENABLED | ModelStatus.DISABLED),
    enableModel: (req, ctx) => registry.setStatus(principalOf(ctx), req.id, ModelStatus.ENABLED),
    disableModel: (req, ctx) => registry.setStatus(principalOf(ctx), req.id, ModelStatus.DISABLED),
  };
}
