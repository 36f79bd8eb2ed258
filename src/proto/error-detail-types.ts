import { createRegistry } from "@bufbuild/protobuf";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import { ModelDraftSchema } from "../../gen/modelservice/v1/model_service_pb.js";

/**
 * The detail types a google.rpc.Status can carry as JSON ("@type" needs the
 * message known): google.rpc's, and the current draft of a version conflict.
 * The server writes them and the CLI reads them.
 */
export const errorDetailTypes = createRegistry(file_google_rpc_error_details, ModelDraftSchema);
