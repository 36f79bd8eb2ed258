import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { serviceUrl } from "./service-client.js";
import { tokenProblem } from "./token-problem.js";

/** A failed call in words, with the request fields the service named as bad. */
export interface ErrorText {
  message: string;
  /** Field violations: the field's path as the service names it ("model.spec.modelUrl") and what is wrong. */
  fields: Array<{ field: string; description: string }>;
}

export const conflictMessage =
  "This model was changed by someone else since you opened it. Reload it to see the current version, then make your change again.";

function headline(error: ConnectError): string {
  const detail = error.rawMessage;
  switch (error.code) {
    case Code.InvalidArgument:
      return `The service refused the input: ${detail}`;
    case Code.NotFound:
      return `Not found: ${detail}`;
    case Code.AlreadyExists:
      return `Already exists: ${detail}`;
    case Code.Aborted:
      return conflictMessage;
    case Code.FailedPrecondition:
      return `Not possible for this model: ${detail}`;
    case Code.PermissionDenied:
      return `Your token is not allowed to do this: ${detail}`;
    case Code.Unauthenticated:
      return tokenProblem(detail);
    case Code.ResourceExhausted:
      return `Too many requests: ${detail}. Wait a moment and try again.`;
    case Code.Unavailable:
      return `The service is unavailable right now: ${detail}. Try again shortly.`;
    case Code.DeadlineExceeded:
      return `The service took too long to answer: ${detail}`;
    case Code.Canceled:
      return "The request was cancelled.";
    default:
      // fetch() itself failed: no answer at all (service down, network, or CORS refused the origin).
      if (error.cause instanceof TypeError) {
        return `Could not reach the service at ${serviceUrl()} (${detail}). Is it running, and does it allow this page's origin?`;
      }
      return `The service failed: ${detail}`;
  }
}

export function errorText(e: unknown): ErrorText {
  const error = ConnectError.from(e);
  const fields = error
    .findDetails(BadRequestSchema)
    .flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
  return { message: headline(error), fields };
}

/** One line for places with no room for a field list (a table row). */
export function errorLine(e: unknown): string {
  const { message, fields } = errorText(e);
  return fields.length === 0 ? message : `${message} (${fields.map((f) => `${f.field}: ${f.description}`).join("; ")})`;
}
