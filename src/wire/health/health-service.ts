/**
 * grpc.health.v1.Health on a Connect router, following the gRPC health
 * checking protocol (https://github.com/grpc/grpc/blob/master/doc/health-checking.md)
 * and grpc-go's reference server: Kubernetes gRPC probes, grpc_health_probe
 * and load balancers call Check; client-side health checking calls Watch.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
} from "../../../gen/health/v1/health_pb.js";

/**
 * Serving status of the whole server ("") and of named services. The server
 * starts SERVING, as in grpc-go; named services are unknown until `set`.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, ServingStatus>([["", ServingStatus.SERVING]]);
  /** Wakes every running Watch stream so it re-reads its status. */
  readonly #watchers = new Set<() => void>();
  #shutDown = false;

  /** The status of `service`, or undefined if it was never set. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Every service with a status, "" included. */
  entries(): IterableIterator<[string, ServingStatus]> {
    return this.#statuses.entries();
  }

  /**
   * Sets the status of `service` ("" for the whole server). Ignored after
   * shutdown, as in grpc-go: a draining server must not look healthy again.
   */
  set(service: string, status: ServingStatus): void {
    if (this.#shutDown || this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#notify();
  }

  /**
   * Marks everything NOT_SERVING for good, so that probes and load balancers
   * stop sending traffic while the server drains; Watch streams end after
   * sending NOT_SERVING, which lets graceful shutdown finish.
   */
  shutdown(): void {
    for (const service of this.#statuses.keys()) this.#statuses.set(service, ServingStatus.NOT_SERVING);
    this.#shutDown = true;
    this.#notify();
  }

  /**
   * The status of `service` now, then at each change: SERVICE_UNKNOWN while it
   * is unknown (the spec keeps such a watch open), NOT_SERVING then the end on
   * shutdown. Ends when `signal` aborts. Holds no timer; its listeners are
   * removed when the iteration ends, however it ends.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus, void, undefined> {
    let wake = () => {};
    const poke = () => wake();
    this.#watchers.add(poke);
    signal.addEventListener("abort", poke);
    try {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        const current = this.#shutDown
          ? ServingStatus.NOT_SERVING
          : (this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
        if (current !== last) {
          last = current;
          yield current;
          continue; // re-read: the status may have changed while the consumer was busy
        }
        if (this.#shutDown) return;
        // The executor runs synchronously, so no change can slip in between
        // the read above and `wake` being armed.
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.#watchers.delete(poke);
      signal.removeEventListener("abort", poke);
    }
  }

  #notify(): void {
    this.#watchers.forEach((poke) => poke());
  }
}

/** Registers grpc.health.v1.Health (Check, Watch and List) backed by `health`, behind the given interceptors. */
export function registerHealthService(router: ConnectRouter, health: HealthStatus, interceptors: Interceptor[]): void {
  router.service(Health, {
    check(request) {
      const status = health.get(request.service);
      if (status === undefined) throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status });
    },
    async *watch(request, context) {
      for await (const status of health.watch(request.service, context.signal)) {
        yield create(HealthCheckResponseSchema, { status });
      }
    },
    list() {
      const statuses = Object.fromEntries([...health.entries()].map(([service, status]) => [service, { status }]));
      return create(HealthListResponseSchema, { statuses });
    },
  }, { interceptors });
}
