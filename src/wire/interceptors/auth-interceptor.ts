import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { required_scope } from "../../../gen/modelservice/v1/options_pb.js";
import { isWorkspaceId, type Principal } from "../../domain/auth/principal.js";
import type { TokenVerifier } from "../../domain/auth/token-verifier.js";
import type { ModelRegistry } from "../../domain/models/model-registry.js";
import { principalKey } from "../principal-context.js";
import { withRequestMessage } from "./request-message.js";

const bearer = /^Bearer\s+(\S+)\s*$/i;

const scopeByMethod = new WeakMap<DescMethod, string>();

/** The method's required_scope option ("" when none), read once per method: protobuf-es decodes options on every getOption. */
function requiredScope(method: DescMethod): string {
  let scope = scopeByMethod.get(method);
  if (scope === undefined) {
    scope = hasOption(method, required_scope) ? getOption(method, required_scope) : "";
    scopeByMethod.set(method, scope);
  }
  return scope;
}

/** The caller of a bearer token in an Authorization header value, or Unauthenticated: what a call proves by its headers alone. */
export async function bearerPrincipal(verifier: TokenVerifier, authorization: string | null | undefined): Promise<Principal> {
  const match = bearer.exec(authorization ?? "");
  if (!match) throw new ConnectError("missing bearer token", Code.Unauthenticated);
  return verifier.verify(match[1]!);
}

/** Whether a call's Authorization header value carries a bearer token that verifies: what the paths that authenticate before reading a body ask. */
export function bearerVerifies(verifier: TokenVerifier, authorization: string | null | undefined): Promise<boolean> {
  return bearerPrincipal(verifier, authorization).then(
    () => true,
    () => false,
  );
}

/**
 * The one place where calls are authorized: a valid bearer token, the scope
 * the method's descriptor requires (option required_scope), and a workspace
 * in the request that is the token's own and belongs to the token's account.
 */
export function authInterceptor(verifier: TokenVerifier, registry: ModelRegistry): Interceptor {
  return (next) => async (req) => {
    const scope = requiredScope(req.method);
    if (scope === "") throw new ConnectError(`${req.method.name} is not open to any scope`, Code.PermissionDenied);
    const principal = await bearerPrincipal(verifier, req.header.get("authorization"));
    if (!principal.scopes.has(scope)) {
      throw new ConnectError(`token lacks scope "${scope}"`, Code.PermissionDenied);
    }
    const checked = await withRequestMessage(req, async (message) => {
      const workspaceId = (message as { workspaceId?: unknown }).workspaceId;
      // A malformed workspace id is bad input, not another workspace: validation names it.
      if (typeof workspaceId === "string" && isWorkspaceId(workspaceId) && workspaceId !== principal.workspaceId) {
        throw new ConnectError(`token is not valid for workspace "${workspaceId.slice(0, 128)}"`, Code.PermissionDenied);
      }
      await registry.admitWorkspace(principal);
    });
    checked.contextValues.set(principalKey, principal);
    return next(checked);
  };
}
