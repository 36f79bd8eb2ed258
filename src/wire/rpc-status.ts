import { create } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema, type Status } from "../../gen/google/rpc/status_pb.js";
import { errorDetailTypes } from "../proto/error-detail-types.js";

/** A ConnectError as google.rpc.Status: numeric code, message, details packed as Any. */
export function rpcStatus(error: ConnectError): Status {
  const details = error.details.flatMap((d) => {
    if ("desc" in d) return [anyPack(d.desc, create(d.desc, d.value))];
    if (!errorDetailTypes.getMessage(d.type)) return [];
    return [create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value })];
  });
  return create(StatusSchema, { code: error.code, message: error.rawMessage, details });
}
