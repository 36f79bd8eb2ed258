import type { Interceptor } from "@connectrpc/connect";
import type { Model } from "../../gen/modelservice/v1/model_pb.js";

/** Versions of models ("id etag") this tab wrote itself: their events refresh nothing, the page already shows them. */
const ownWrites = new Set<string>();
const versionOf = (m: Model | undefined) => `${m?.metadata?.id} ${m?.metadata?.etag}`;

/** Notes the models this tab's calls return, so that their own events are not taken for changes by others. */
export const ownWritesInterceptor: Interceptor = (next) => async (req) => {
  const res = await next(req);
  if (!res.stream && res.message.$typeName === "modelservice.v1.Model") {
    if (ownWrites.size > 1000) ownWrites.clear();
    ownWrites.add(versionOf(res.message as Model));
  }
  return res;
};

/** Whether this tab wrote this version of the model itself. */
export function isOwnWrite(model: Model | undefined): boolean {
  return ownWrites.has(versionOf(model));
}
