import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Principal } from "../domain/auth/principal.js";
import type { Call } from "../domain/models/model-registry.js";

/** Where the auth interceptor leaves the verified caller for the handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "verified caller" });
/** Where the logging interceptor leaves the request id of the call. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });
/** Where the deadline interceptor leaves the call's deadline (epoch ms), if it has one. */
export const deadlineKey = createContextKey<number | undefined>(undefined, { description: "call deadline" });

export function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  // Unreachable while the auth interceptor guards the service; fail closed if it ever does not.
  if (!principal) throw new ConnectError("no verified caller", Code.Unauthenticated);
  return principal;
}

export function callOf(ctx: HandlerContext): Call {
  return { principal: principalOf(ctx), requestId: ctx.values.get(requestIdKey), deadline: ctx.values.get(deadlineKey) };
}
