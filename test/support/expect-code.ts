import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { RestError } from "./rest.js";

/** The HTTP status REST answers with for each code (google/rpc/code.proto's mapping), written out as the oracle. */
export const httpStatusOf: Record<Code, number> = {
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

/** The fields an error's BadRequest details name, over any protocol. */
export function fieldsOf(error: ConnectError | RestError): string[] {
  if (error instanceof RestError) return error.fields;
  return error.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field));
}

/**
 * Awaits a call that must fail with `code` (and name `field` in its
 * BadRequest details when given). A REST error must also carry the code's
 * HTTP status, and a conflict or failed precondition `x-should-retry: false`.
 */
export async function expectCode(call: Promise<unknown>, code: Code, field?: string): Promise<ConnectError | RestError> {
  let outcome: { error: unknown } | { value: unknown };
  try {
    outcome = { value: await call };
  } catch (e) {
    outcome = { error: e };
  }
  if ("value" in outcome) {
    const shown = outcome.value && typeof outcome.value === "object" && "$typeName" in outcome.value ? JSON.stringify(outcome.value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 400) : String(outcome.value);
    expect.fail(`expected ${Code[code]}, but the call succeeded: ${shown}`);
  }
  const thrown = outcome.error;
  const error = thrown instanceof RestError ? thrown : ConnectError.from(thrown);
  expect(Code[error.code], error.message).toBe(Code[code]);
  if (error instanceof RestError) {
    expect(error.status, error.message).toBe(httpStatusOf[code]);
    if (error.status === 409 || code === Code.FailedPrecondition) expect(error.headers.get("x-should-retry")).toBe("false");
  }
  if (field !== undefined) expect(fieldsOf(error), error.message).toContain(field);
  return error;
}

/** expectCode for a call over an RPC protocol: the error as a ConnectError, with its details and metadata. */
export async function expectRpcCode(call: Promise<unknown>, code: Code, field?: string): Promise<ConnectError> {
  const error = await expectCode(call, code, field);
  if (error instanceof RestError) expect.fail(`expected a ConnectError, got ${error.message}`);
  return error;
}
