import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { errorDetailTypes, rpcStatus } from "../../domain/errors/rpc-status.js";

/** The standard gRPC → HTTP mapping (google/rpc/code.proto, grpc-gateway). */
const httpStatusOf: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

export interface RestError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function retryAfterSeconds(error: ConnectError): number {
  const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay ? Math.max(1, Math.ceil(Number(delay.seconds) + delay.nanos / 1e9)) : 1;
}

/**
 * A ConnectError as grpc-gateway writes it: the HTTP status of its code and a
 * google.rpc.Status JSON body. Errors a retry cannot fix say so
 * (`x-should-retry: false`, honoured by the seeds' Stainless SDKs); 429 and
 * 503 say when to retry.
 */
export function restError(error: ConnectError, statusOverride?: number): RestError {
  const status = statusOverride ?? httpStatusOf[error.code] ?? 500;
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (status === 409 || error.code === Code.FailedPrecondition) headers["x-should-retry"] = "false";
  if (status === 429 || status === 503) {
    const seconds = retryAfterSeconds(error);
    headers["retry-after"] = String(seconds);
    headers["retry-after-ms"] = String(seconds * 1000);
  }
  return { status, headers, body: toJsonString(StatusSchema, rpcStatus(error), { registry: errorDetailTypes }) };
}
