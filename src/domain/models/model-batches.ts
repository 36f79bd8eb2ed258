import type { ConnectError } from "@connectrpc/connect";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";

/** A batch's outcome: every model (all or nothing), or with allow_partial each item's model or error. */
export type BatchOutcome = { models: Model[] } | { results: Array<Model | ConnectError> };
