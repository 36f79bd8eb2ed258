import type { DescMessage, Message } from "@bufbuild/protobuf";
import { modelRuleViolations } from "../models/model-rules.js";
import { fieldBehaviorViolations } from "./field-behavior.js";
import { invalidArgument } from "./field-violations.js";

/** Checks a request against its descriptor and the model rules; throws InvalidArgument listing every bad field. */
export function validateRequest(schema: DescMessage, request: Message): void {
  const violations = [...fieldBehaviorViolations(schema, request), ...modelRuleViolations(schema, request)];
  if (violations.length > 0) throw invalidArgument(violations);
}
