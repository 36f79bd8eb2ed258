import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
// The standard gRPC → HTTP mapping (google/rpc/code.proto, grpc-gateway), as the Connect protocol uses it.
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { errorDetailTypes } from "../../proto/error-detail-types.js";
import { rpcStatus } from "../rpc-status.js";


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
  const status = statusOverride ?? codeToHttpStatus(error.code);
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  if (status === 409 || error.code === Code.FailedPrecondition) headers["x-should-retry"] = "false";
  if (status === 429 || status === 503) {
    const seconds = retryAfterSeconds(error);
    headers["retry-after"] = String(seconds);
    headers["retry-after-ms"] = String(seconds * 1000);
  }
  return { status, headers, body: toJsonString(StatusSchema, rpcStatus(error), { registry: errorDetailTypes }) };
}
