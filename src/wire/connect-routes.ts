import type { DescFile, DescMethod } from "@bufbuild/protobuf";
import { createServiceImplSpec, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import type { TokenVerifier } from "../domain/auth/token-verifier.js";
import type { ModelDrafts } from "../domain/models/model-drafts.js";
import type { ModelRegistry } from "../domain/models/model-registry.js";
import type { ModelTransfer } from "../domain/models/model-transfer.js";
import type { ModelWatch } from "../domain/watch/model-watch.js";
import { registerHealthService, type HealthStatus } from "./health/health-service.js";
import { authInterceptor } from "./interceptors/auth-interceptor.js";
import { deadlineInterceptor } from "./interceptors/deadline-interceptor.js";
import { storeErrorInterceptor } from "./interceptors/store-error-interceptor.js";
import { validationInterceptor } from "./interceptors/validation-interceptor.js";
import { servingEncodedJson, type JsonAnswerOptions } from "./encoded-json-answers.js";
import { modelServiceHandler } from "./model-service-handler.js";
import { authenticateBeforeBody } from "./protocols/authenticate-before-body.js";
import { invalidArgumentForParseErrors } from "./protocols/parse-error-status.js";
import { registerServerReflection } from "./reflection/server-reflection.js";
import type { UnaryCall } from "./unary-call.js";

export interface RouteParts {
  registry: ModelRegistry;
  /** Model drafts (seed 002). */
  drafts: ModelDrafts;
  /** CSV export and import (seed 002). */
  transfer: ModelTransfer;
  /** WatchModels (issue 16). */
  watch: ModelWatch;
  verifier: TokenVerifier;
  health: HealthStatus;
  /** Files that reflection describes. */
  files: readonly DescFile[];
  /**
   * Cross-cutting interceptors of every service, outermost first: tracing
   * (when on), metrics, logging. Given here only: connect replaces a router's
   * interceptors with a service's rather than merging them, so each service is
   * registered with this list, and the adapter gets none.
   */
  interceptors: Interceptor[];
  /** The per-token rate limit of ModelService, run right after auth (only verified tokens get a bucket); none when off. */
  rateLimit?: Interceptor;
  /** The adapter's JSON and compression settings: GetModel and ListModels write their JSON answers from encoded bytes made with them. */
  jsonAnswers: JsonAnswerOptions;
}

/** The RPCs whose answers the read cache keeps, and so also keeps encoded. */
const encodedAnswerMethods = new Set<DescMethod>([ModelService.method.getModel, ModelService.method.listModels]);

export interface ConnectRoutes {
  /** Registers every service on connect's router (connectNodeAdapter's `routes`). */
  register(router: ConnectRouter): void;
  /** ModelService's unary RPCs: the implementation and interceptors registered on the router, for REST to run without a Connect request. */
  unaryCalls: ReadonlyMap<DescMethod, UnaryCall>;
}

/**
 * Every RPC service of the port. ModelService alone is behind auth and
 * validation; health and reflection are open, as operators and probes expect.
 */
export function connectRoutes(parts: RouteParts): ConnectRoutes {
  const modelService = modelServiceHandler(parts.registry, parts.drafts, parts.transfer, parts.watch);
  const interceptors = [
    ...parts.interceptors,
    // Outside deadline and auth (whose first call of a workspace writes too): every store error passes it.
    storeErrorInterceptor,
    // Before auth, so that a call already past its deadline costs nothing.
    deadlineInterceptor,
    authInterceptor(parts.verifier, parts.registry),
    ...(parts.rateLimit ? [parts.rateLimit] : []),
    validationInterceptor,
  ];
  const unaryCalls = new Map<DescMethod, UnaryCall>();
  for (const spec of Object.values(createServiceImplSpec<typeof ModelService>(ModelService, modelService).methods)) {
    if (spec.kind === "unary") unaryCalls.set(spec.method, { spec, interceptors });
  }
  return {
    unaryCalls,
    register(router) {
      router.service(ModelService, modelService, { interceptors });
      registerHealthService(router, parts.health, parts.interceptors);
      registerServerReflection(router, parts.files, parts.interceptors);
      // connect-node's adapter serves router.handlers as they stand after this function.
      router.handlers.forEach((handler, i) => {
        // Authentication is outermost: a caller without a valid token learns nothing about its body.
        const checked = invalidArgumentForParseErrors(encodedAnswerMethods.has(handler.method) ? servingEncodedJson(handler, parts.jsonAnswers) : handler);
        router.handlers[i] = handler.service.typeName === ModelService.typeName ? authenticateBeforeBody(checked, parts.verifier) : checked;
      });
    },
  };
}
