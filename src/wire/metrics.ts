import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { ServerObserver } from "./server.js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The service's Prometheus metrics, one registry per running service (tests
 * run several in one process). Labels carry method names and status codes
 * only — never a token, an id or any other request value — so the series
 * stay few and /metrics can be open without a token.
 */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Finished calls by method ("package.Service/Method") and code ("ok", "not_found", …). */
  readonly requests: Counter<"method" | "code">;
  /** Call latency in seconds, from the first interceptor to the end of the response. */
  readonly duration: Histogram<"method">;
  /** Calls started and not yet finished. */
  readonly inFlight: Gauge<"method">;
  /** Calls refused by the per-token rate limit. */
  readonly rateLimited: Counter;
  /** Open client connections, every protocol. */
  readonly openConnections: Gauge;
  /** Connections closed on arrival: over the total or the per-client cap. */
  readonly rejectedConnections: Counter;
  /** HTTP/2 streams reset because their request did not arrive within the request timeout. */
  readonly streamTimeouts: Counter;
  readonly refusedStreams: Counter;
}

export interface MetricsOptions {
  /** The database's size on disk, in bytes (modelservice_database_bytes), as its store measures it. */
  databaseSize: () => Promise<number>;
  /** What the read cache holds now; modelservice_read_cache_bytes and _entries. */
  readCache?: () => { bytes: number; entries: number };
  /** Also collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions): ServiceMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "modelservice_requests_total",
    help: "RPCs finished, by method and status code (REST calls count as their RPC).",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "modelservice_request_duration_seconds",
    help: "RPC latency in seconds, by method.",
    labelNames: ["method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "modelservice_requests_in_flight",
    help: "RPCs started and not yet finished, by method.",
    labelNames: ["method"] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "modelservice_rate_limited_total",
    help: "RPCs refused with RESOURCE_EXHAUSTED by the per-token rate limit.",
    registers: [registry],
  });
  const openConnections = new Gauge({
    name: "modelservice_open_connections",
    help: "Client connections open now (HTTP/1.1 and HTTP/2).",
    registers: [registry],
  });
  const rejectedConnections = new Counter({
    name: "modelservice_rejected_connections_total",
    help: "Connections closed on arrival because MODELSERVICE_MAX_CONNECTIONS or MODELSERVICE_MAX_CONNECTIONS_PER_CLIENT were reached.",
    registers: [registry],
  });
  const streamTimeouts = new Counter({
    name: "modelservice_stream_timeouts_total",
    help: "HTTP/2 streams reset because their request was not complete within MODELSERVICE_REQUEST_TIMEOUT_MS.",
    registers: [registry],
  });
  const databaseSize = options.databaseSize;
  new Gauge({
    name: "modelservice_database_bytes",
    help: "Size of the database on disk, in bytes (SQLite: the file with its write-ahead log; PostgreSQL: pg_database_size).",
    registers: [registry],
    async collect() {
      this.set(await databaseSize());
    },
  });
  const readCache = options.readCache;
  if (readCache) {
    new Gauge({
      name: "modelservice_read_cache_bytes",
      help: "Heap bytes the read cache of GetModel and ListModels answers holds (bounded by MODELSERVICE_READ_CACHE_BYTES).",
      registers: [registry],
      collect() {
        this.set(readCache().bytes);
      },
    });
    new Gauge({
      name: "modelservice_read_cache_entries",
      help: "Answers the read cache holds.",
      registers: [registry],
      collect() {
        this.set(readCache().entries);
      },
    });
  }
  const refusedStreams = new Counter({
    name: "modelservice_refused_streams_total",
    help: "HTTP/2 streams refused (REFUSED_STREAM) because MODELSERVICE_MAX_OPEN_STREAMS were open.",
    registers: [registry],
  });
  return { registry, requests, duration, inFlight, rateLimited, openConnections, rejectedConnections, streamTimeouts, refusedStreams };
}

/** The server's connection and stream events as metrics. */
export function serverObserver(metrics: ServiceMetrics): ServerObserver {
  return {
    connectionOpened: () => metrics.openConnections.inc(),
    connectionClosed: () => metrics.openConnections.dec(),
    connectionRejected: () => metrics.rejectedConnections.inc(),
    streamTimedOut: () => metrics.streamTimeouts.inc(),
    streamRefused: () => metrics.refusedStreams.inc(),
  };
}

/** Answers GET /metrics: the registry in the Prometheus text format. */
export function metricsEndpoint(registry: Registry): (res: ServerResponse | Http2ServerResponse) => void {
  return (res) => {
    registry.metrics().then(
      (text) => {
        (res as ServerResponse).writeHead(200, {
          "content-type": registry.contentType,
          "content-length": Buffer.byteLength(text),
          "cache-control": "no-store",
        });
        res.end(text);
      },
      (e: unknown) => {
        const text = `metrics unavailable: ${(e as Error).message}\n`;
        (res as ServerResponse).writeHead(500, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
        res.end(text);
      },
    );
  };
}
