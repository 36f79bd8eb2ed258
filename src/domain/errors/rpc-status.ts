import { create, createRegistry } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema, type Status } from "../../../gen/google/rpc/status_pb.js";
import { ModelDraftSchema } from "../../../gen/modelservice/v1/model_service_pb.js";

/** The detail types a google.rpc.Status can carry as JSON ("@type" needs the message known): google.rpc's, and the current draft of a version conflict. */
export const errorDetailTypes = createRegistry(file_google_rpc_error_details, ModelDraftSchema);

/** A ConnectError as google.rpc.Status: numeric code, message, details packed as Any. */
export function rpcStatus(error: ConnectError): Status {
  const details = error.details.flatMap((d) => {
    if ("desc" in d) return [anyPack(d.desc, create(d.desc, d.value))];
    if (!errorDetailTypes.getMessage(d.type)) return [];
    return [create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value })];
  });
  return create(StatusSchema, { code: error.code, message: error.rawMessage, details });
}
