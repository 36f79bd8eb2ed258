import { getOption } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ModelService } from "../../../gen/modelservice/v1/model_service_pb.js";
import { required_scope } from "../../../gen/modelservice/v1/options_pb.js";
import type { Principal } from "./principal.js";

/** What a write does to a model; each kind is allowed by its own scope. */
export type ModelChange = "create" | "update" | "delete";

/** Each change needs the scope of the method that makes just that change: its required_scope in the proto. */
const scopeOfChange: Record<ModelChange, string> = {
  create: getOption(ModelService.method.createModel, required_scope),
  update: getOption(ModelService.method.updateModel, required_scope),
  delete: getOption(ModelService.method.deleteModel, required_scope),
};

/**
 * A method's required_scope (checked by the auth interceptor) covers what the
 * method itself does. A method that writes on behalf of others — a bundle, a
 * batch, an import, a draft's publish — also needs the scope of every change
 * it would make: models:update alone must not create or delete through a
 * bundle. Checked on the plan, before anything is written (dry runs too).
 */
export function requireChangeScopes(principal: Principal, changes: Iterable<ModelChange>, what: string): void {
  const missing = [...new Set([...changes].map((c) => scopeOfChange[c]))].filter((s) => !principal.scopes.has(s)).sort();
  if (missing.length === 0) return;
  throw new ConnectError(`${what}: token lacks scope ${missing.map((s) => `"${s}"`).join(", ")}`, Code.PermissionDenied);
}
