import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { Model } from "../../gen/modelservice/v1/model_pb.js";
import { BatchModelsResponseSchema, type BatchModelsResponse } from "../../gen/modelservice/v1/model_service_pb.js";
import type { BatchOutcome } from "../domain/models/model-batches.js";
import { rpcStatus } from "./rpc-status.js";

/** A batch's outcome as the wire answers it: all the models, or (allow_partial) each item's model or google.rpc.Status. */
export function batchResponse(outcome: BatchOutcome): BatchModelsResponse {
  if ("models" in outcome) return create(BatchModelsResponseSchema, { models: outcome.models });
  const results = outcome.results.map((r: Model | ConnectError) =>
    r instanceof ConnectError ? { result: { case: "status" as const, value: rpcStatus(r) } } : { result: { case: "model" as const, value: r } },
  );
  return create(BatchModelsResponseSchema, { results });
}
