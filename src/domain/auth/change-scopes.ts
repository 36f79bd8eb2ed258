import { Code, ConnectError } from "@connectrpc/connect";
import type { Principal } from "./principal.js";

/** What a write does to a model; each kind is allowed by its own scope. */
export type ModelChange = "create" | "update" | "delete";

const scopeOfChange: Record<ModelChange, string> = {
  create: "models:create",
  update: "models:update",
  delete: "models:delete",
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
