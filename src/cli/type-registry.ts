import { createRegistry } from "@bufbuild/protobuf";
import { file_modelservice_v1_model_service } from "../../gen/modelservice/v1/model_service_pb.js";
import { errorDetailTypes } from "../proto/error-detail-types.js";

/** Every type the responses can carry, google.rpc error details included (for Any in BatchResult). */
export const registry = createRegistry(file_modelservice_v1_model_service, errorDetailTypes);
