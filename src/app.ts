import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { file_health_v1_health } from "../gen/health/v1/health_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_modelservice_v1_model_service, ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { devWorkspace, type Config } from "./config.js";
import { TokenVerifier } from "./domain/auth/token-verifier.js";
import { catalogRefreshSchedule } from "./domain/catalog/catalog-schedule.js";
import { errorDetailTypes } from "./proto/error-detail-types.js";
import { CredentialSealer } from "./domain/credentials/credential-sealer.js";
import { ModelDrafts } from "./domain/models/model-drafts.js";
import { ModelRegistry } from "./domain/models/model-registry.js";
import { ModelTransfer } from "./domain/models/model-transfer.js";
import type { DraftStore } from "./storage/draft-store.js";
import { openWatch } from "./domain/watch/open-watch.js";
import type { ModelStore } from "./storage/model-store.js";
import { openStores } from "./open-stores.js";
import { draftStoreCalls, modelStoreCalls, tracedStore } from "./telemetry/traced-store.js";
import { connectRoutes } from "./wire/connect-routes.js";
import { grpcDirect } from "./wire/grpc-direct.js";
import { http2RpcStreams } from "./wire/http2-rpc-streams.js";
import { connectJsonDirect } from "./wire/connect-json-direct.js";
import { consoleFiles, defaultConsoleDir } from "./wire/console/console-files.js";
import { devTokenEndpoint } from "./wire/console/dev-token.js";
import { corsMiddleware } from "./wire/cors.js";
import { HealthStatus } from "./wire/health/health-service.js";
import { httpHandler } from "./wire/http-handler.js";
import { loggingInterceptor } from "./wire/interceptors/logging-interceptor.js";
import { metricsInterceptor } from "./wire/interceptors/metrics-interceptor.js";
import { rateLimitInterceptor } from "./wire/interceptors/rate-limit-interceptor.js";
import { tracingInterceptor } from "./wire/interceptors/tracing-interceptor.js";
import { createMetrics, metricsEndpoint, serverObserver } from "./wire/metrics.js";
import { docsPage } from "./wire/openapi/docs-page.js";
import { openApiDocument } from "./wire/openapi/openapi-document.js";
import { useBufferTextEncoding } from "./wire/protobuf-text-encoding.js";
import { httpBindings } from "./wire/rest/http-rules.js";
import { notFound, restHandler } from "./wire/rest/rest-handler.js";
import { depthCheckingJsonOptions } from "./wire/protocols/json-depth.js";
import { OnePortServer } from "./wire/server.js";
import { watchMetrics } from "./wire/watch-metrics.js";

export interface RunningService {
  address: AddressInfo;
  store: ModelStore;
  /** Graceful stop: NOT_SERVING, no new connections, in-flight calls finish, database closed. */
  close(): Promise<void>;
}

/**
 * Wires storage, domain and wire layers together and starts listening.
 * With a tracer (src/telemetry/tracing.ts), every RPC and store call is a span.
 */
export async function startService(config: Config, logger: Logger, tracer?: Tracer): Promise<RunningService> {
  useBufferTextEncoding();
  const opened = await openStores(config);
  const storeSpans = { "db.system.name": opened.system };
  const store = tracer ? tracedStore<ModelStore>(opened.models, "ModelStore", modelStoreCalls, tracer, storeSpans) : opened.models;
  const draftStore = opened.drafts;
  const registry = await ModelRegistry.open(store, {
    sealer: CredentialSealer.fromSettings(config.encryptionKey, config.encryptionKeysOld),
    purgeAfterMs: config.purgeAfterMs,
    readCacheBytes: config.readCacheBytes,
    catalog: { providers: config.catalogProviders, fetchUrls: config.catalogFetchUrls, maxBytes: config.catalogMaxBytes },
  });
  const catalogTimer = await catalogRefreshSchedule(registry, config.catalogRefreshMinutes, logger);
  const purge = () =>
    registry.purgeDeleted().then(
      (purged) => purged > 0 && logger.info({ purged }, "purged deleted models"),
      (e: unknown) => logger.error({ err: e }, "purge failed"),
    );
  await purge();
  const purgeTimer = setInterval(purge, 60 * 60 * 1000).unref();

  const health = new HealthStatus();
  health.set(ModelService.typeName, HealthCheckResponse_ServingStatus.SERVING);
  const handlers = new Map<DescMethod, UniversalHandler>();
  const metrics = createMetrics({ databaseSize: () => opened.sizeBytes(), readCache: () => registry.readCacheUsage() });
  const watch = await openWatch(
    store,
    opened.changes,
    {
      retentionMs: config.watchRetentionMs,
      bookmarkMs: config.watchBookmarkMs,
      pollMs: config.watchPollMs,
      bufferEvents: config.watchBufferEvents,
      maxPerToken: config.watchMaxPerToken,
      maxPerProcess: config.watchMaxPerProcess,
    },
    watchMetrics(metrics.registry, (e: unknown) => logger.error({ err: e }, "watch: reading the change log failed")),
  );
  const pruneChanges = () =>
    watch.prune().then(
      (pruned) => pruned > 0 && logger.info({ pruned }, "pruned the change log"),
      (e: unknown) => logger.error({ err: e }, "change log pruning failed"),
    );
  await pruneChanges();
  const pruneTimer = setInterval(pruneChanges, 60 * 60 * 1000).unref();
  const rateLimit =
    config.rateLimitRps === undefined
      ? undefined
      : rateLimitInterceptor({
          rps: config.rateLimitRps,
          burst: config.rateLimitBurst ?? Math.max(1, Math.ceil(config.rateLimitRps)),
          onLimited: () => metrics.rateLimited.inc(),
        });
  const verifier = new TokenVerifier({
    keys: config.tokenKeys,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockSkewSeconds: config.jwtClockSkewSeconds,
    maxLifetimeSeconds: config.jwtMaxLifetimeSeconds,
  });
  const jsonOptions = { alwaysEmitImplicit: true, registry: errorDetailTypes, ignoreUnknownFields: false, ...depthCheckingJsonOptions(config.maxJsonDepth) };
  // connect's defaults, written out: GetModel's and ListModels' encoded JSON answers are compressed alike (connectRoutes).
  const compression = { acceptCompression: [compressionGzip, compressionBrotli], compressMinBytes: 1024 };
  const jsonAnswers = { jsonOptions, ...compression };
  // Binary requests skip unknown fields, as protobuf requires, without
  // keeping them: a request's size never outlives the request.
  const binaryOptions = { readUnknownFields: false };
  const routes = connectRoutes({
      registry,
      drafts: new ModelDrafts(tracer ? tracedStore<DraftStore>(draftStore, "DraftStore", draftStoreCalls, tracer, storeSpans) : draftStore, registry),
      transfer: new ModelTransfer(store, registry, { maxCsvBytes: config.maxBodyBytes }),
      watch: watch.watch,
      verifier,
      health,
      files: [
        file_modelservice_v1_model_service,
        file_health_v1_health,
        file_grpc_reflection_v1_reflection,
        file_grpc_reflection_v1alpha_reflection,
      ],
      // The one list of cross-cutting interceptors, outermost first: tracing's span covers the rest.
      interceptors: [...(tracer ? [tracingInterceptor(tracer)] : []), metricsInterceptor(metrics), loggingInterceptor(logger)],
      rateLimit,
      jsonAnswers,
  });
  const rpc = connectNodeAdapter({
    routes(router) {
      routes.register(router);
      for (const handler of router.handlers) handlers.set(handler.method, handler);
    },
    fallback: (req, res) => notFound(req, res as ServerResponse),
    // Implicit-presence fields are written even at their defaults ("items": [],
    // "nextCursor": ""), as the seeds' SDKs expect; proto3 optional fields stay
    // absent when unset.
    // Statuses inside batch results carry details as Any: the registry names their types.
    // Unknown JSON fields and enum names are refused (connect-es ignores them
    // by default), as REST refuses them: a typo never fails open.
    jsonOptions,
    binaryOptions,
    readMaxBytes: config.maxBodyBytes,
    ...compression,
  });
  const bindings = httpBindings([ModelService]);
  // The port opens only after migrations ran (ModelRegistry.open above), so /readyz never answers 200 during them.
  let accepting = true;
  const server = new OnePortServer(
    httpHandler({
      cors: corsMiddleware(config.corsOrigins),
      ready: () => accepting && opened.available(),
      metrics: metricsEndpoint(metrics.registry),
      openApi: JSON.stringify(openApiDocument(bindings, { title: "ModelService", version: "v1" })),
      docs: docsPage(),
      console: consoleFiles(config.consoleDir ?? defaultConsoleDir()),
      devToken:
        config.devMode && config.tokenKeys.kind === "secret"
          ? devTokenEndpoint({
              ...devWorkspace,
              secret: config.tokenKeys.secret,
              issuer: config.jwtIssuer,
              audience: config.jwtAudience,
              maxLifetimeSeconds: config.jwtMaxLifetimeSeconds,
            })
          : undefined,
      rest: restHandler({ bindings, handlers, direct: { calls: routes.unaryCalls, jsonAnswers }, maxBodyBytes: config.maxBodyBytes, verifier, maxJsonDepth: config.maxJsonDepth }),
      rpcPaths: new Set([...handlers.values()].map((h) => h.requestPath)),
      connectJson: connectJsonDirect({ calls: routes.unaryCalls, handlers, verifier, jsonAnswers, readMaxBytes: config.maxBodyBytes }),
      rpc,
    }),
    {
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxConcurrentStreams: config.maxConcurrentStreams,
      idleTimeoutMs: config.idleTimeoutMs,
      maxConnections: config.maxConnections,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      maxConnectionBufferBytes: config.maxConnectionBufferBytes,
      maxOpenStreams: config.maxOpenStreams,
    },
    serverObserver(metrics),
    http2RpcStreams(
      new Map([...handlers.values()].map((h) => [h.requestPath, h])),
      grpcDirect({ calls: routes.unaryCalls, verifier, binaryOptions, readMaxBytes: config.maxBodyBytes, ...compression }),
    ),
  );
  const address = await server.listen({ host: config.host, port: config.port });
  logger.info({ host: address.address, port: address.port }, "listening");

  return {
    address,
    store,
    async close() {
      accepting = false;
      clearInterval(purgeTimer);
      clearInterval(catalogTimer);
      clearInterval(pruneTimer);
      health.shutdown();
      // Watches never finish by themselves: end them (Unavailable) so the grace period is not spent waiting on them.
      watch.close();
      await server.close(config.shutdownGraceMs);
      await store.close();
      logger.info("stopped");
    },
  };
}
