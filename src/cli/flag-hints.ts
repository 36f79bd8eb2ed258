import { getOption, type DescField } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { FieldBehavior, field_behavior } from "../../gen/google/api/field_behavior_pb.js";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";

/** A flag that sets one field of the request, by its path of fields. */
export interface FieldFlag {
  long: string;
  path: DescField[];
}

function required(field: DescField): boolean {
  return getOption(field, field_behavior).includes(FieldBehavior.REQUIRED);
}

/**
 * The flags that fix a field violation ("model.metadata.name" or its JSON
 * form): the field's own flag, or, for a missing message, the flags of the
 * required fields inside it ("model.metadata" → --name).
 */
function flagsFor(violation: string, flags: readonly FieldFlag[]): string[] {
  const names = (path: DescField[], key: "name" | "jsonName") => path.map((f) => f[key]).join(".");
  const found: string[] = [];
  for (const flag of flags) {
    for (const key of ["name", "jsonName"] as const) {
      const full = names(flag.path, key);
      if (full === violation) found.push(flag.long);
      else if (full.startsWith(violation + ".") && flag.path.slice(violation.split(".").length).every(required)) found.push(flag.long);
    }
  }
  return [...new Set(found)];
}

/**
 * An InvalidArgument from the server, its message naming the flags that set
 * the fields at fault: `model.metadata: is required (missing --name)`.
 */
export function withFlagHints(error: unknown, flags: readonly FieldFlag[]): unknown {
  if (!(error instanceof ConnectError) || error.code !== Code.InvalidArgument) return error;
  const violations = error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  const hints = violations.flatMap((v) => {
    const named = flagsFor(v.field, flags);
    if (named.length === 0) return [];
    return [/required/.test(v.description) ? `missing ${named.join(" or ")}` : `see ${named.join(", ")}`];
  });
  if (hints.length === 0) return error;
  const hinted = new ConnectError(`${error.rawMessage} (${[...new Set(hints)].join("; ")})`, error.code, error.metadata, undefined, error);
  hinted.details = error.details;
  return hinted;
}
