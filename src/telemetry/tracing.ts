import { context, diag, DiagLogLevel, propagation, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "pino";
import { ConfigError } from "../config.js";

export interface Tracing {
  /** What starts the spans of RPCs and store calls; undefined when nothing would record them (no exporter): tracing is off. */
  tracer: Tracer | undefined;
  /** Exports the spans still queued, then stops. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Processors besides the OTLP exporter's (tests record spans in memory). */
  spanProcessors?: SpanProcessor[];
}

/**
 * Process-wide tracing, on when the standard OTEL_* variables configure an
 * OTLP exporter (or a test hands in a processor). Off, nothing is loaded or
 * registered and calls pay nothing: no trace context is read, and no async
 * context is kept, which on Node 20 would slow every promise of the process.
 * On, calls continue their caller's W3C trace (`traceparent`, `tracestate`).
 */
export async function startTracing(logger: Logger, options: TracingOptions = {}): Promise<Tracing> {
  const otlp = otlpConfigured(process.env);
  const processors = [...(options.spanProcessors ?? [])];
  if (!otlp && processors.length === 0) return { tracer: undefined, shutdown: async () => undefined };
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  const [{ BasicTracerProvider, BatchSpanProcessor }, { defaultResource, detectResources, envDetector, resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
  ]);
  if (otlp) {
    // The exporter reads its endpoint, headers, timeout and compression from the OTEL_EXPORTER_OTLP_* variables.
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
    // Failed exports are reported through OpenTelemetry's diagnostics logger, otherwise silent.
    const warn = (message: string, ...args: unknown[]) => logger.warn({ args }, `opentelemetry: ${message}`);
    diag.setLogger({ error: warn, warn, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
  }
  const provider = new BasicTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name.
    resource: defaultResource()
      .merge(resourceFromAttributes({ "service.name": "modelservice" }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: processors,
  });
  trace.setGlobalTracerProvider(provider);
  return { tracer: provider.getTracer("modelservice"), shutdown: () => provider.shutdown() };
}

/** Whether the OTEL_* variables ask for OTLP trace export (the only exporter this service ships). */
function otlpConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  const unsupported = exporters.filter((name) => name !== "otlp" && name !== "none");
  if (unsupported.length > 0) throw new ConfigError(`OTEL_TRACES_EXPORTER: only "otlp" and "none" are supported, not ${unsupported.join(", ")}`);
  const wanted = exporters.length > 0 ? exporters.includes("otlp") : Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!wanted) return false;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || "http/protobuf";
  if (protocol !== "http/protobuf") throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: only "http/protobuf" is supported, not "${protocol}"`);
  return true;
}
